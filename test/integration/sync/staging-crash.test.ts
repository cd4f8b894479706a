import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Pool } from 'pg';
import { FailureType } from '../../../lib/contracts/sync';
import { CrashablePostgres } from './crashable-postgres';
import { internalId, people, rosterText } from './roster-text';
import { SCHOOLS, SyncHarness } from './sync-harness';

/**
 * Postgres stopped with `pg_ctl stop -m immediate` (a crash, an immediate shutdown, a failover)
 * empties every UNLOGGED table, the runs' staging among them. At each point a crash can hit a run,
 * the run must end as the file says or fail with a typed reason, never half-applied: an admin counts
 * the district's users and the run's plan.
 */
describe('sync engine: Postgres crashes in the middle of a run', { timeout: 600_000 }, () => {
  let pg: CrashablePostgres;

  // The first file: 200 people. The second: one renamed, one gone, two new.
  const v1 = people(200);
  const v2 = [
    ...v1.filter((p) => p.n !== 200).map((p) => (p.n === 5 ? { ...p, firstName: 'Renamed' } : p)),
    ...people(202).slice(200),
  ];
  const expectedPlan = { create: 2, update: 1, reactivate: 0, archive: 1 };

  before(async () => {
    pg = await CrashablePostgres.start();
  });
  after(async () => {
    await pg?.stop();
  });

  /** A district that already synced the first file, and a second run of the second file. */
  async function districtWithSecondRun(): Promise<{ h: SyncHarness; runId: string }> {
    const h = await new SyncHarness(pg.pool()).setup({
      matchingKey: 'internal_id',
      coachingGroups: ['individual'],
    });
    const first = await h.sync({ name: 'roster.csv', text: rosterText(v1) });
    assert.equal(first.run.created_count, 200);
    const runId = await h.newRun({ name: 'roster.csv', text: rosterText(v2) });
    return { h, runId };
  }

  /** The second run staged and planned, and held for review as the workflow holds it when `held`. */
  async function plannedSecondRun(opts: { held: boolean }): Promise<{ h: SyncHarness; runId: string }> {
    const { h, runId } = await districtWithSecondRun();
    await h.activities.stageFile({ runId });
    await h.activities.planChanges({ runId });
    if (opts.held) await h.activities.finishRun({ runId, status: 'held', failureMessage: 'held for review' });
    return { h, runId };
  }

  /** The crash, then a new pool (the worker's connections died with the server) on the same runs. */
  async function crashAndRestart(h: SyncHarness): Promise<SyncHarness> {
    await pg.crash();
    await pg.restart();
    const again = new SyncHarness(pg.pool(), h.artifacts);
    again.districtId = h.districtId;
    return again;
  }

  /** What an admin checks once the second file is applied. */
  async function assertSecondFileApplied(h: SyncHarness, runId: string): Promise<void> {
    const run = (await h.runs.get(runId))!;
    assert.ok(run.applied_at, 'the run is applied');
    assert.ok(run.timings.restage !== undefined, 'the run staged its file again after the crash');
    assert.deepEqual(
      {
        created: run.created_count,
        updated: run.updated_count,
        reactivated: run.reactivated_count,
        archived: run.archived_count,
      },
      { created: 2, updated: 1, reactivated: 0, archived: 1 },
    );
    assert.deepEqual(await planCounts(h.pool, runId), expectedPlan);
    const users = await h.users();
    assert.equal(users.filter((u) => u.status === 'active').length, 201);
    assert.deepEqual(
      users.filter((u) => u.status === 'archived').map((u) => u.internal_id),
      [internalId(200)],
    );
    // Every person of the file exactly once, with the file's values.
    const ids = users.map((u) => u.internal_id).sort();
    assert.equal(new Set(ids).size, ids.length, 'no person exists twice');
    assert.equal(users.length, 202);
    assert.equal((await h.user('internal_id', internalId(5)))?.first_name, 'Renamed');
    assert.equal((await h.user('internal_id', internalId(202)))?.status, 'active');
    assert.equal((await h.user('internal_id', internalId(202)))?.school, SCHOOLS[202 % SCHOOLS.length]);
  }

  it('between stage and plan: the plan is the file, not "archive everyone"', async () => {
    const second = await districtWithSecondRun();
    const runId = second.runId;
    let h = second.h;
    const stage = await h.activities.stageFile({ runId });
    assert.equal(stage.rowsValid, 201);
    h = await crashAndRestart(h);

    const plan = await h.activities.planChanges({ runId });
    assert.deepEqual(
      { create: plan.create, update: plan.update, reactivate: plan.reactivate, archive: plan.archive },
      expectedPlan,
    );
    assert.equal(plan.unchanged, 198);
    await h.activities.applyChanges({ runId });
    await h.activities.finishRun({ runId, status: 'succeeded' });
    await assertSecondFileApplied(h, runId);
  });

  it('between plan and approval of a held run: approving applies the reviewed plan in full', async () => {
    const second = await plannedSecondRun({ held: true });
    const runId = second.runId;
    let h = second.h;
    const reviewed = await planRows(h.pool, runId);
    h = await crashAndRestart(h);

    const applied = await h.activities.applyChanges({ runId });
    assert.deepEqual(applied, { applied: true, created: 2, updated: 1, reactivated: 0, archived: 1 });
    await h.activities.finishRun({ runId, status: 'succeeded' });
    await assertSecondFileApplied(h, runId);
    // The plan applied is the one reviewed: the same actions for the same users.
    assert.deepEqual(await planRows(h.pool, runId), reviewed);
    const created = reviewed.filter((r) => r.action === 'create').map((r) => r.user_id);
    const { rows } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM users WHERE id = ANY($1::uuid[])',
      [created],
    );
    assert.equal(rows[0].n, 2, 'the new users have the ids the reviewed plan gave them');
  });

  it('in the middle of the apply transaction: the retry applies everything once', async () => {
    const second = await plannedSecondRun({ held: false });
    const runId = second.runId;
    let h = second.h;

    // Hold the apply half way: users are written inside its transaction, then it waits for the
    // coaching groups, which this session keeps locked. The crash comes while it waits.
    const locker = await pg.client();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE groups IN ACCESS EXCLUSIVE MODE');
    const applying = h.activities.applyChanges({ runId }).then(
      () => undefined,
      (err: unknown) => err,
    );
    await waitFor(async () => {
      const { rows } = await locker.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
         WHERE c.relname = 'groups' AND NOT l.granted`,
      );
      return rows[0].n > 0;
    }, 60_000);
    h = await crashAndRestart(h);
    assert.ok((await applying) instanceof Error, 'the interrupted apply failed');
    await locker.end().catch(() => undefined);

    const mid = (await h.runs.get(runId))!;
    assert.equal(mid.applied_at, null, 'nothing of the interrupted apply was kept');
    assert.equal((await h.users()).length, 200);

    const applied = await h.activities.applyChanges({ runId });
    assert.equal(applied.applied, true);
    await h.activities.finishRun({ runId, status: 'succeeded' });
    await assertSecondFileApplied(h, runId);
    assert.deepEqual(
      (await h.groupMembers())['First1 Last1 – coaching group']?.length,
      200,
      'the coach has every other active person of the file',
    );
  });

  it('staging that cannot be rebuilt as it was: a typed failure, nothing applied', async () => {
    const second = await plannedSecondRun({ held: true });
    const runId = second.runId;
    let h = second.h;
    h = await crashAndRestart(h);
    // Since the review, a school was renamed: the file's rows for it are now errors, so staging the
    // file again cannot give back the rows the plan was made from.
    await h.pool.query('UPDATE schools SET name = $1 WHERE district_id = $2 AND name = $3', [
      'Lincoln Elementary School',
      h.districtId,
      SCHOOLS[1],
    ]);

    await assert.rejects(h.activities.applyChanges({ runId }), (err: Error & { type?: string }) => {
      assert.equal(err.type, FailureType.StagingLost);
      assert.match(err.message, /Sync Now/);
      return true;
    });
    const run = (await h.runs.get(runId))!;
    assert.equal(run.applied_at, null);
    const users = await h.users();
    assert.equal(users.length, 200);
    assert.equal(users.filter((u) => u.status === 'active').length, 200);
    assert.equal((await h.user('internal_id', internalId(5)))?.first_name, 'First5');
  });
});

async function planCounts(pool: Pool, runId: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ action: string; n: number }>(
    'SELECT action, count(*)::int AS n FROM run_plan WHERE run_id = $1 GROUP BY action',
    [runId],
  );
  const counts: Record<string, number> = { create: 0, update: 0, reactivate: 0, archive: 0 };
  for (const r of rows) counts[r.action] = r.n;
  return counts;
}

async function planRows(
  pool: Pool,
  runId: string,
): Promise<Array<{ action: string; user_id: string; row_number: number | null }>> {
  const { rows } = await pool.query<{ action: string; user_id: string; row_number: number | null }>(
    'SELECT action, user_id, row_number FROM run_plan WHERE run_id = $1 ORDER BY action, user_id',
    [runId],
  );
  return rows;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
