import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { evaluateSafeguards, type SafeguardDecision } from '../../../lib/sync/safeguards';
import { type RunFile, type SyncHarness, fixturePath, useSyncDistricts } from './sync-harness';

/** The first two teachers of roster-v1.csv only: a truncated export. */
const TRUNCATED = `First Name,Last Name,Email,Internal ID,School,Role
Ada,Lovelace,Ada.Lovelace@district.org,T1001,Minty Middle School,Teacher
Alan,Turing,alan.turing@district.org,T1002,Minty Middle School,Teacher
`;

/**
 * The safeguards as the sync-run workflow applies them (stage, plan, then evaluateSafeguards with
 * the limits startRun hands over), over the real activities and Postgres; and what a run's history
 * records.
 */
describe('sync engine: safeguards and history', () => {
  const suite = useSyncDistricts();
  const { db } = suite;
  const district = async (errorThresholdPct = -1): Promise<SyncHarness> => {
    const h = await suite.district({ matchingKey: 'internal_id', errorThresholdPct });
    await h.sync({ fixture: 'roster-v1.csv' });
    return h;
  };
  const setLimits = async (h: SyncHarness, limits: Record<string, number>): Promise<void> => {
    for (const [column, value] of Object.entries(limits)) {
      await db.pool.query(`UPDATE sync_configs SET ${column} = $2 WHERE district_id = $1`, [
        h.districtId,
        value,
      ]);
    }
  };
  /** Stage and plan a file, then decide as the workflow does. */
  const decide = async (
    h: SyncHarness,
    file: RunFile,
  ): Promise<{ runId: string; decision: SafeguardDecision }> => {
    const runId = await h.newRun(file);
    const stage = await h.activities.stageFile({ runId });
    assert.equal(stage.fatal, undefined);
    const plan = await h.activities.planChanges({ runId });
    return { runId, decision: evaluateSafeguards(stage, plan, h.safeguards.get(runId)!) };
  };
  const activeIds = async (h: SyncHarness): Promise<string[]> =>
    (await h.users())
      .filter((u) => u.status === 'active')
      .map((u) => u.internal_id ?? '')
      .sort();

  it('error threshold: more rows with errors than allowed fails the run and applies nothing', async () => {
    const h = await district(10);
    // roster-v2.csv: 1 of its 7 data rows (Edsger's role 'Wizard') has an error: 14.3% > 10%.
    const { runId, decision } = await decide(h, { fixture: 'roster-v2.csv' });
    assert.equal(decision.decision, 'fail');
    assert.ok(decision.decision === 'fail');
    assert.equal(decision.type, 'ThresholdExceeded');
    assert.match(decision.message, /^1 of 7 rows \(14\.3%\) have errors, above the error threshold of 10%/);
    await h.activities.finishRun({
      runId,
      status: 'failed',
      failureType: decision.type,
      failureMessage: decision.message,
    });
    assert.equal((await h.user('internal_id', 'T1001'))?.last_name, 'Lovelace');
    assert.equal((await h.user('internal_id', 'T1002'))?.status, 'active');
    const run = await h.runs.get(runId);
    assert.deepEqual(
      [run?.status, run?.failure_type, run?.applied_at],
      ['failed', 'ThresholdExceeded', null],
    );
  });

  it('error threshold -1 disables the check: the same file goes through', async () => {
    const h = await district(-1);
    await setLimits(h, { max_archive_pct: -1 });
    const { runId, decision } = await decide(h, { fixture: 'roster-v2.csv' });
    assert.deepEqual(decision, { decision: 'proceed' });
    assert.equal((await h.activities.applyChanges({ runId })).applied, true);
    assert.equal((await h.user('internal_id', 'T1001'))?.last_name, 'King');
  });

  it('mass change: a truncated file is held with nothing applied; approving applies the plan as reviewed', async () => {
    const h = await district();
    const before = await activeIds(h);
    const { runId, decision } = await decide(h, { name: 'users.csv', text: TRUNCATED });
    assert.equal(decision.decision, 'hold');
    assert.ok(decision.decision === 'hold');
    assert.deepEqual(decision.reasons, [
      '5 of 7 active users (71.4%) would be archived, more than the limit of 10%.',
      'The file has 2 rows, 71.4% fewer than the 7 of the last applied file (limit 20%).',
    ]);
    await h.activities.finishRun({ runId, status: 'held' });
    assert.deepEqual(await activeIds(h), before, 'a held run changes nobody');
    assert.equal((await h.runs.get(runId))?.status, 'held');

    // The admin approves: the reviewed plan is applied, once.
    const approved = await h.activities.applyChanges({ runId });
    // Ada and Alan are updated too: the truncated export has no Coach Email, Phone or Department.
    assert.deepEqual(approved, { applied: true, created: 0, updated: 2, reactivated: 0, archived: 5 });
    await h.activities.finishRun({ runId, status: 'succeeded' });
    // Everyone but the two teachers in the file is archived.
    assert.deepEqual(await activeIds(h), ['T1001', 'T1002']);
  });

  it('mass change: discarding a held run applies nothing, and it can never be applied later', async () => {
    const h = await district();
    await setLimits(h, { max_archive_pct: 50, max_archive_count: 3, max_row_drop_pct: -1 });
    const { runId, decision } = await decide(h, { name: 'users.csv', text: TRUNCATED });
    assert.deepEqual(decision, {
      decision: 'hold',
      reasons: [
        '5 of 7 active users (71.4%) would be archived, more than the limit of 50%.',
        '5 users would be archived, more than the limit of 3.',
      ],
    });
    await h.activities.finishRun({ runId, status: 'held' });
    await h.activities.finishRun({ runId, status: 'discarded' });
    assert.equal((await h.activities.applyChanges({ runId })).applied, false);
    assert.equal((await activeIds(h)).length, 7);
  });

  it('history: trigger, file name, size and sha256, every count, and per-stage timings', async () => {
    const h = await district();
    const r = await h.sync({ fixture: 'roster-v2.csv' });
    const bytes = fs.readFileSync(fixturePath('roster-v2.csv'));
    const run = r.run;
    assert.deepEqual(
      {
        trigger: run.trigger,
        status: run.status,
        file: run.file_name,
        size: run.file_size === null ? null : Number(run.file_size),
        sha256: run.file_sha256,
      },
      {
        trigger: 'sync_now',
        status: 'succeeded',
        file: 'roster-v2.csv',
        size: bytes.length,
        sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      },
    );
    assert.deepEqual(
      {
        rows: run.rows_total,
        blank: run.rows_blank,
        valid: run.rows_valid,
        withErrors: run.rows_with_errors,
        created: run.created_count,
        updated: run.updated_count,
        unchanged: run.unchanged_count,
        reactivated: run.reactivated_count,
        archived: run.archived_count,
        errors: run.error_count,
        warnings: run.warning_count,
      },
      {
        rows: 8,
        blank: 1,
        valid: 6,
        withErrors: 1,
        created: 1,
        updated: 2,
        unchanged: 3,
        reactivated: 0,
        archived: 1,
        errors: 1,
        warnings: 1,
      },
    );
    for (const stage of [
      'stage',
      'stage_copy',
      'stage_checks',
      'plan',
      'apply',
      'apply_users',
      'apply_groups',
    ]) {
      assert.equal(typeof run.timings[stage], 'number', `timing ${stage}`);
    }
    assert.ok(run.started_at && run.finished_at && run.finished_at >= run.started_at);
    assert.equal(run.failure_type, null);
  });
});
