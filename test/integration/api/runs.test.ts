import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import type { RunDetail } from '../../../apps/api/runs/runs.service';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { type ApiHarness, BASE_CONFIG, createDistrict, startApi } from './api-harness';

async function signalNames(h: ApiHarness, districtId: string): Promise<string[]> {
  const history = await h.temporal.client.workflow.getHandle(`district-sync:${districtId}`).fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.workflowExecutionSignaledEventAttributes?.signalName
      ? [e.workflowExecutionSignaledEventAttributes.signalName]
      : [],
  );
}

describe('API: Sync Now, run history, reviews, retries and downloads', () => {
  let h: ApiHarness;
  let runs: SyncRunsRepository;
  let a: { id: string; slug: string };
  let b: { id: string; slug: string };

  before(async () => {
    h = await startApi();
    runs = new SyncRunsRepository(h.db.pool);
    a = await createDistrict(h);
    b = await createDistrict(h);
    await h.api().put(`/districts/${a.id}/sync-config`).send(BASE_CONFIG).expect(200);
    await h.api().put(`/districts/${b.id}/sync-config`).send(BASE_CONFIG).expect(200);
  });
  after(async () => {
    await h.close();
  });

  it('refuses Sync Now for a district without a sync config, saying what to do', async () => {
    const d = await createDistrict(h);
    const res = await h.api().post(`/districts/${d.id}/sync-now`).send({}).expect(409);
    assert.match(res.body.message, /has no sync config.*PUT \/districts\/.*\/sync-config/);
    const { rows } = await h.db.pool.query('SELECT id FROM sync_runs WHERE district_id = $1', [d.id]);
    assert.equal(rows.length, 0, 'no run row is left behind');
  });

  it('Sync Now creates the run row and signals the district workflow', async () => {
    const res = await h.api().post(`/districts/${a.id}/sync-now`).send({ dryRun: true }).expect(202);
    const runId = res.body.runId as string;
    const row = await runs.get(runId, a.id);
    assert.ok(row);
    assert.equal(row.trigger, 'sync_now');
    assert.equal(row.dry_run, true);
    const handle = h.temporal.client.workflow.getHandle(`district-sync:${a.id}`);
    assert.equal((await handle.describe()).status.name, 'RUNNING');
    assert.ok((await signalNames(h, a.id)).includes('syncNow'));
    const detail = await h.api().get(`/districts/${a.id}/runs/${runId}`).expect(200);
    assert.equal(detail.body.id, runId);
    assert.equal(detail.body.dryRun, true);
    // `curl -X POST .../sync-now` with no body at all is a plain (not dry) run.
    const plain = await h.api().post(`/districts/${a.id}/sync-now`).expect(202);
    assert.equal((await runs.get(plain.body.runId as string, a.id))?.dry_run, false);
    const bad = await h.api().post(`/districts/${a.id}/sync-now`).send({ dryRun: 'yes' }).expect(400);
    assert.match(bad.body.message, /dryRun/);
  });

  it("keeps districts apart: district B's run is not found under district A", async () => {
    const runB = await runs.create({ districtId: b.id, trigger: 'schedule', dryRun: false });
    await runs.update(runB.id, { status: 'failed', failure_type: 'MissingColumns', failure_message: 'x' });
    for (const suffix of ['', '/errors.csv', '/plan.csv', '/file']) {
      const res = await h.api().get(`/districts/${a.id}/runs/${runB.id}${suffix}`).expect(404);
      assert.match(res.body.message, /not found for district/);
    }
    for (const action of ['approve', 'discard', 'retry'])
      await h.api().post(`/districts/${a.id}/runs/${runB.id}/${action}`).expect(404);
    const list = await h.api().get(`/districts/${a.id}/runs?limit=100`).expect(200);
    assert.ok(!(list.body.runs as Array<{ id: string }>).some((r) => r.id === runB.id));
    await h.api().get(`/districts/${b.id}/runs/${runB.id}`).expect(200);
  });

  it('pages run history newest first', async () => {
    const d = await createDistrict(h);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const run = await runs.create({ districtId: d.id, trigger: 'schedule', dryRun: false });
      await h.db.pool.query(
        `UPDATE sync_runs SET created_at = now() - make_interval(mins => $2) WHERE id = $1`,
        [run.id, 100 - i],
      );
      ids.push(run.id);
    }
    const newestFirst = [...ids].reverse();
    const first = await h.api().get(`/districts/${d.id}/runs`).expect(200);
    assert.equal(first.body.total, 12);
    assert.deepEqual(
      (first.body.runs as Array<{ id: string }>).map((r) => r.id),
      newestFirst.slice(0, 10),
    );
    const second = await h.api().get(`/districts/${d.id}/runs?limit=10&offset=10`).expect(200);
    assert.deepEqual(
      (second.body.runs as Array<{ id: string }>).map((r) => r.id),
      newestFirst.slice(10),
    );
    const tooMany = await h.api().get(`/districts/${d.id}/runs?limit=101`).expect(400);
    assert.match(tooMany.body.message, /limit: limit must be at most 100/);
    await h.api().get(`/districts/${d.id}/runs?offset=-1`).expect(400);
  });

  it('shows a run in detail: counts, timings, file, failure, plan samples and errors by code', async () => {
    const run = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await runs.update(
      run.id,
      {
        status: 'failed',
        stage: 'stage',
        file_name: 'roster.csv',
        file_size: 1234,
        file_sha256: 'ab'.repeat(32),
        rows_total: 10,
        rows_valid: 8,
        error_count: 2,
        failure_type: 'ThresholdExceeded',
        failure_message: '20% of rows have errors; the limit is 10%.',
        plan_samples: { create: [{ email: 'new@x.org' }] },
      },
      { stage: 'stage', ms: 42 },
    );
    await h.db.pool.query(
      `INSERT INTO run_errors (run_id, row_number, column_name, value, code, severity, message)
       VALUES ($1, 2, 'Email', 'bad', 'INVALID_EMAIL', 'error', 'm'), ($1, 3, 'Email', 'bad2', 'INVALID_EMAIL', 'error', 'm'),
              ($1, 4, 'Role', 'x', 'UNKNOWN_ROLE', 'error', 'm')`,
      [run.id],
    );
    const res = await h.api().get(`/districts/${a.id}/runs/${run.id}`).expect(200);
    const body = res.body as RunDetail;
    assert.equal(body.status, 'failed');
    assert.equal(body.fileName, 'roster.csv');
    assert.equal(body.fileSize, 1234);
    assert.equal(body.fileSha256, 'ab'.repeat(32));
    assert.equal(body.rowsTotal, 10);
    assert.equal(body.rowsValid, 8);
    assert.equal(body.errorCount, 2);
    assert.equal(body.timings.stage, 42);
    assert.equal(body.failureType, 'ThresholdExceeded');
    assert.equal(body.failureMessage, '20% of rows have errors; the limit is 10%.');
    assert.deepEqual(body.planSamples, { create: [{ email: 'new@x.org' }] });
    assert.ok(!('file_ref' in body) && !('fileRef' in body), 'internal artifact paths stay internal');
    assert.deepEqual(
      (body.errorSummary as Array<{ code: string; count: number }>).map((e) => [e.code, e.count]),
      [
        ['INVALID_EMAIL', 2],
        ['UNKNOWN_ROLE', 1],
      ],
    );
    assert.equal(body.downloads.errorsCsv, `/districts/${a.id}/runs/${run.id}/errors.csv`);
  });

  it('approves or discards only held runs, by signalling the district workflow', async () => {
    const running = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await runs.update(running.id, { status: 'running' });
    const refused = await h.api().post(`/districts/${a.id}/runs/${running.id}/approve`).expect(409);
    assert.match(refused.body.message, /is running; only runs held for review/);
    const held = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await runs.update(held.id, { status: 'held' });
    const ok = await h.api().post(`/districts/${a.id}/runs/${held.id}/discard`).expect(202);
    assert.deepEqual(ok.body, { runId: held.id, decision: 'discard' });
    assert.ok((await signalNames(h, a.id)).includes('reviewDecision'));
  });

  it('retries a failed run as a new run linked to it', async () => {
    const ok = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await runs.update(ok.id, { status: 'succeeded' });
    await h.api().post(`/districts/${a.id}/runs/${ok.id}/retry`).expect(409);
    const failed = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await runs.update(failed.id, { status: 'failed', failure_type: 'FileNotFound' });
    const res = await h.api().post(`/districts/${a.id}/runs/${failed.id}/retry`).expect(202);
    const retry = await runs.get(res.body.runId as string, a.id);
    assert.ok(retry);
    assert.equal(retry.trigger, 'retry');
    assert.equal(retry.retry_of, failed.id);
    // Retrying it again while that retry is queued joins it: no second run.
    const again = await h.api().post(`/districts/${a.id}/runs/${failed.id}/retry`).expect(202);
    assert.deepEqual(again.body, { runId: retry.id, joinedQueuedRun: true });
  });

  it('streams the original file with its name, and says when a run has none', async () => {
    const run = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await h.api().get(`/districts/${a.id}/runs/${run.id}/file`).expect(404);
    const store = new ArtifactStore(path.join(h.dataDir, 'artifacts'));
    const ref = store.refFor(run.id, 'Roster Export é.csv');
    // 8 MB: big enough that buffering would show, small enough for a quick test.
    const chunk = Buffer.from('email,first,last\n' + 'someone@x.org,Some,One\n'.repeat(1000));
    const chunks = Math.ceil((8 * 1024 * 1024) / chunk.length);
    const { size, sha256 } = await store.put(
      ref,
      Readable.from(
        (function* () {
          for (let i = 0; i < chunks; i++) yield chunk;
        })(),
      ),
    );
    await runs.update(run.id, {
      file_ref: ref,
      file_name: 'Roster Export é.csv',
      file_size: size,
      file_sha256: sha256,
    });
    const res = await h
      .api()
      .get(`/districts/${a.id}/runs/${run.id}/file`)
      .buffer(true)
      .parse((response, cb) => {
        const parts: Buffer[] = [];
        response.on('data', (c: Buffer) => parts.push(c));
        response.on('end', () => cb(null, Buffer.concat(parts)));
      })
      .expect(200);
    assert.equal(res.headers['content-length'], String(size));
    assert.match(
      String(res.headers['content-disposition']),
      /^attachment; filename="Roster Export _.csv"; filename\*=UTF-8''Roster%20Export%20%C3%A9.csv$/,
    );
    assert.equal(
      crypto
        .createHash('sha256')
        .update(res.body as Buffer)
        .digest('hex'),
      sha256,
    );
    // A file removed from the store since: said as such, not as a run that never fetched one.
    fs.rmSync(store.resolve(ref));
    const gone = await h.api().get(`/districts/${a.id}/runs/${run.id}/file`).expect(404);
    assert.match(
      gone.body.message,
      /file is no longer in the file store .* errors\.csv and plan\.csv are still available/,
    );
  });

  it('streams errors.csv and plan.csv as attachments with formula cells neutralised', async () => {
    const run = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    await h.db.pool.query(
      `INSERT INTO run_errors (run_id, row_number, column_name, value, code, severity, message)
       VALUES ($1, 2, 'Email', '=HYPERLINK("http://evil.example","click")', 'INVALID_EMAIL', 'error', 'Email is not valid'),
              ($1, 3, 'First Name', '@SUM(A1:A2)', 'INVALID_VALUE', 'warning', 'odd value')`,
      [run.id],
    );
    const res = await h.api().get(`/districts/${a.id}/runs/${run.id}/errors.csv`).expect(200);
    assert.match(String(res.headers['content-type']), /^text\/csv/);
    assert.match(
      String(res.headers['content-disposition']),
      new RegExp(`attachment; filename="run-${run.id}-errors.csv"`),
    );
    const cells = (parse(res.text, { skip_empty_lines: true, bom: true }) as string[][]).flat();
    assert.ok(
      cells.some((c) => c.includes('HYPERLINK')),
      'the offending value is reported',
    );
    for (const cell of cells) assert.doesNotMatch(cell, /^[=+@\t\r]/, `cell ${cell} would run as a formula`);
    const plan = await h.api().get(`/districts/${a.id}/runs/${run.id}/plan.csv`).expect(200);
    assert.match(String(plan.headers['content-type']), /^text\/csv/);
    assert.match(
      String(plan.headers['content-disposition']),
      new RegExp(`attachment; filename="run-${run.id}-plan.csv"`),
    );
  });

  it('reports the schedule status, or that it has not started', async () => {
    const d = await createDistrict(h);
    const res = await h.api().get(`/districts/${d.id}/sync-status`).expect(200);
    assert.equal(res.body.started, false);
    assert.match(res.body.message, /not started/);
  });
});
