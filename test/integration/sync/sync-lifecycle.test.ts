import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type SyncHarness, useSyncDistricts } from './sync-harness';

/**
 * A district matching by Internal ID syncs three files in a row, and checks what an admin would:
 * who exists, who changed, who was archived or came back, and what the run history says.
 */
describe('sync engine: a district syncing by Internal ID', () => {
  const { db, district } = useSyncDistricts();
  let h: SyncHarness;

  before(async () => {
    h = await district({ matchingKey: 'internal_id', coachingGroups: ['individual'] });
    // An admin created by hand, not in any file: protected users are never archived by a sync.
    await db.pool.query(
      `INSERT INTO users (district_id, email, first_name, last_name, role, protected)
       VALUES ($1, 'it.admin@district.org', 'Ivy', 'Admin', 'System Admin', true)`,
      [h.districtId],
    );
  });

  it('first file: creates everyone, with schools, roles and custom columns', async () => {
    const r = await h.sync({ fixture: 'roster-v1.csv' });
    assert.equal(r.stage.rowsValid, 7);
    assert.equal(r.stage.rowsWithErrors, 0);
    assert.deepEqual(r.plan && { c: r.plan.create, u: r.plan.update, a: r.plan.archive }, {
      c: 7,
      u: 0,
      a: 0,
    });
    assert.deepEqual(r.apply, { applied: true, created: 7, updated: 0, reactivated: 0, archived: 0 });

    const ada = await h.user('internal_id', 'T1001');
    assert.equal(ada?.email, 'ada.lovelace@district.org');
    assert.equal(ada?.school, 'Minty Middle School');
    assert.equal(ada?.role, 'Teacher');
    assert.equal(ada?.phone, '555-0101');
    assert.deepEqual(ada?.custom_fields, { Department: 'Math' });
    const cathy = await h.user('internal_id', 'T1005');
    assert.equal(cathy?.first_name, "O'Neil, Jr.");
    assert.equal(cathy?.role, 'Teacher');
    // District-wide roles need no school.
    const barbara = await h.user('internal_id', 'A3001');
    assert.equal(barbara?.role, 'System Admin');
    assert.equal(barbara?.school, null);
    assert.equal(barbara?.status, 'active');

    assert.equal(r.run.status, 'succeeded');
    assert.equal(r.run.rows_total, 7);
    assert.equal(r.run.rows_valid, 7);
    assert.equal(r.run.created_count, 7);
    assert.equal(r.run.archived_count, 0);
    assert.ok(r.run.finished_at);
    for (const stage of ['stage', 'plan', 'apply'])
      assert.equal(typeof r.run.timings[stage], 'number', stage);
    assert.equal((await h.user('email', 'it.admin@district.org'))?.status, 'active');
  });

  it('the same file again changes nothing and writes nothing', async () => {
    const before = await h.users();
    const r = await h.sync({ fixture: 'roster-v1.csv' });
    assert.deepEqual(r.apply, { applied: true, created: 0, updated: 0, reactivated: 0, archived: 0 });
    assert.equal(r.plan?.unchanged, 7);
    assert.equal(r.run.unchanged_count, 7);
    const afterUsers = await h.users();
    assert.deepEqual(
      afterUsers.map((u) => [u.id, u.updated_at.getTime(), u.last_run_id]),
      before.map((u) => [u.id, u.updated_at.getTime(), u.last_run_id]),
    );
  });

  let v2: Awaited<ReturnType<SyncHarness['sync']>>;
  it('second file: updates what changed, archives who left, creates who is new', async () => {
    const adaBefore = await h.user('internal_id', 'T1001');
    v2 = await h.sync({ fixture: 'roster-v2.csv' });
    const r = v2;
    assert.equal(r.stage.rowsBlank, 1);
    assert.equal(r.stage.rowsWithErrors, 1); // Edsger's unknown role
    assert.equal(r.plan?.create, 1); // Margaret
    assert.equal(r.plan?.update, 2); // Ada's last name, Katherine's coach
    assert.equal(r.plan?.activeBefore, 8);
    assert.equal(r.plan?.previousRowCount, 7);

    const ada = await h.user('internal_id', 'T1001');
    assert.equal(ada?.id, adaBefore?.id);
    assert.equal(ada?.last_name, 'King');
    assert.equal((await h.user('internal_id', 'T1002'))?.status, 'archived');
    assert.equal((await h.user('email', 'it.admin@district.org'))?.status, 'active');
    assert.equal((await h.user('internal_id', 'T1006'))?.school, 'Roosevelt High School');
    const errors = await h.errors(r.runId);
    assert.ok(errors.some((e) => e.code === 'UNKNOWN_ROLE' && e.row_number === 5));
  });

  it('second file: a user whose row has an error is left as is, never archived because of it', async () => {
    const edsger = await h.user('internal_id', 'T1004');
    assert.equal(edsger?.status, 'active');
    assert.equal(edsger?.role, 'Teacher');
    assert.equal(v2.plan?.archive, 1); // Alan only: not Edsger (row error), not the protected admin
  });

  it('third file: a user who comes back is reactivated, same account', async () => {
    const alan = await h.user('internal_id', 'T1002');
    assert.equal(alan?.status, 'archived');
    const r = await h.sync({ fixture: 'roster-v3.csv' });
    assert.ok((r.plan?.reactivate ?? 0) >= 1);
    assert.equal(r.apply?.reactivated, r.plan?.reactivate);
    const back = await h.user('internal_id', 'T1002');
    assert.equal(back?.id, alan?.id);
    assert.equal(back?.status, 'active');
    assert.equal(r.run.reactivated_count, r.plan?.reactivate);
  });

  it('a retried or replayed apply never applies twice', async () => {
    const runId = await h.newRun({ fixture: 'roster-v1.csv' });
    await h.activities.stageFile({ runId });
    // stageFile is idempotent: a retry clears the run's staging first.
    const again = await h.activities.stageFile({ runId });
    assert.equal(again.rowsValid, 7);
    const plan = await h.activities.planChanges({ runId });
    assert.equal(plan.update, 2); // back to v1 names and coach
    const first = await h.activities.applyChanges({ runId });
    const second = await h.activities.applyChanges({ runId });
    assert.equal(first.applied, true);
    assert.equal(second.applied, false);
    assert.equal(second.updated, first.updated);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM users WHERE district_id = $1', [
      h.districtId,
    ]);
    assert.equal(rows[0].n, 9);
    await h.activities.finishRun({ runId, status: 'succeeded' });
  });

  it('runs of one district never overlap', async () => {
    const a = await h.newRun({ fixture: 'roster-v1.csv' });
    const { runId: b } = await h.activities.createRun({
      districtId: h.districtId,
      trigger: 'schedule',
      dryRun: false,
    });
    await assert.rejects(
      h.activities.startRun({ runId: b, workflowId: 'x' }),
      (err: Error & { type?: string }) => {
        assert.equal(err.type, 'RunInProgress');
        return true;
      },
    );
    await h.activities.finishRun({ runId: a, status: 'discarded' });
    const { safeguards } = await h.activities.startRun({ runId: b, workflowId: 'x' });
    assert.equal(safeguards.errorThresholdPct, -1);
    await h.activities.finishRun({ runId: b, status: 'discarded' });
  });
  it('of two runs of one district claiming at the same moment, exactly one starts', async () => {
    const create = async () =>
      (await h.activities.createRun({ districtId: h.districtId, trigger: 'schedule', dryRun: false })).runId;
    for (let round = 0; round < 5; round++) {
      const [a, b] = [await create(), await create()];
      const outcomes = await Promise.allSettled([
        h.activities.startRun({ runId: a, workflowId: `a-${round}` }),
        h.activities.startRun({ runId: b, workflowId: `b-${round}` }),
      ]);
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, `round ${round}`);
      const refused = outcomes.find((o) => o.status === 'rejected');
      assert.equal((refused?.reason as { type?: string }).type, 'RunInProgress');
      for (const runId of [a, b]) await h.activities.finishRun({ runId, status: 'discarded' });
    }
  });
});
