import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readRoster } from '../../../lib/csv/read-roster';
import { SyncEngine, type ReadRoster } from '../../../lib/sync/sync-engine.service';
import { ATTEMPT_SUPERSEDED } from '../../../lib/sync/run-guard';
import { internalId, people, rosterText } from './roster-text';
import { type SyncHarness, useSyncDistricts } from './sync-harness';

/**
 * An attempt of stage or plan that lost its heartbeat keeps running while Temporal starts its retry,
 * and a delayed attempt may even start after a newer one finished. However they overlap, the run
 * gets one plan, and applying it creates each person of the file once.
 */
describe('sync engine: overlapping attempts of stage and plan', { timeout: 300_000 }, () => {
  const suite = useSyncDistricts();
  const { db } = suite;
  const roster = { name: 'roster.csv', text: rosterText(people(2000)) };

  async function district(): Promise<{ h: SyncHarness; engine: SyncEngine }> {
    const h = await suite.district({ matchingKey: 'internal_id' });
    return { h, engine: new SyncEngine({ pool: db.pool, artifacts: h.artifacts }) };
  }

  async function assertEveryoneCreatedOnce(h: SyncHarness, runId: string): Promise<void> {
    const plan = await db.pool.query<{ n: number; rows: number; users: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT row_number)::int AS rows, count(DISTINCT user_id)::int AS users
       FROM run_plan WHERE run_id = $1 AND action = 'create'`,
      [runId],
    );
    assert.deepEqual(plan.rows[0], { n: 2000, rows: 2000, users: 2000 });
    const users = await h.users();
    assert.equal(users.length, 2000);
    assert.equal(new Set(users.map((u) => u.internal_id)).size, 2000, 'nobody exists twice');
    assert.ok(users.some((u) => u.internal_id === internalId(2000)));
    const run = (await h.runs.get(runId))!;
    assert.equal(run.created_count, 2000);
    assert.equal(run.timings.restage, undefined, 'staging was verified, never rebuilt');
  }

  it('two plan attempts at once: one plan, every user created once', async () => {
    const { h, engine } = await district();
    const runId = await h.newRun(roster);
    await engine.stageFile({ runId });
    const at = new Date();
    const [first, second] = await Promise.all([
      engine.planChanges({ runId }, at),
      engine.planChanges({ runId }, at),
    ]);
    assert.equal(first.create, 2000);
    assert.equal(second.create, 2000);
    const applied = await engine.applyChanges({ runId });
    assert.equal(applied.created, 2000);
    await engine.finishRun({ runId, status: 'succeeded' });
    await assertEveryoneCreatedOnce(h, runId);
  });

  it('an attempt older than the last one writes nothing: the plan stays as planned', async () => {
    const { h, engine } = await district();
    const runId = await h.newRun(roster);
    const base = Date.now();
    await engine.stageFile({ runId }, new Date(base - 60_000));
    await engine.planChanges({ runId }, new Date(base));
    const planned = await db.pool.query<{ user_id: string; row_number: number }>(
      'SELECT user_id, row_number FROM run_plan WHERE run_id = $1 ORDER BY row_number',
      [runId],
    );

    // The plan attempt Temporal gave up on, and the stage attempt before it, arrive late.
    const superseded = (err: Error & { type?: string }) => {
      assert.equal(err.type, ATTEMPT_SUPERSEDED);
      return true;
    };
    await assert.rejects(engine.planChanges({ runId }, new Date(base - 30_000)), superseded);
    await assert.rejects(engine.stageFile({ runId }, new Date(base - 30_000)), superseded);

    const after = await db.pool.query<{ user_id: string; row_number: number }>(
      'SELECT user_id, row_number FROM run_plan WHERE run_id = $1 ORDER BY row_number',
      [runId],
    );
    assert.deepEqual(after.rows, planned.rows, 'the plan is the one the newer attempt made');
    await engine.applyChanges({ runId });
    await engine.finishRun({ runId, status: 'succeeded' });
    await assertEveryoneCreatedOnce(h, runId);
  });

  it('an attempt whose session ended mid-stage writes nothing once its retry took over', async () => {
    const { h, engine } = await district();
    const runId = await h.newRun(roster);
    // The first attempt stalls in the middle of its COPY (its reader waits for the gate).
    let openGate = (): void => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const stalling: ReadRoster = async function* (source, opts) {
      const rows = readRoster(source, opts);
      for (;;) {
        const next = await rows.next();
        if (next.done) return next.value;
        yield next.value;
        await gate;
      }
    };
    const stalled = new SyncEngine({ pool: db.pool, artifacts: h.artifacts, readRoster: stalling });
    const base = Date.now();
    const first = stalled.stageFile({ runId }, new Date(base)).then(
      () => undefined,
      (err: Error & { type?: string }) => err,
    );
    await waitFor(async () => (await activeQueries(`COPY stage_rows_%`)) > 0);

    // Its database session holding the guard ends (a network cut, a terminated backend); Temporal
    // starts the retry while the first attempt still runs.
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND objid = hashtext($1)::oid`,
      [runId],
    );
    const retry = engine.stageFile({ runId }, new Date(base + 1000));
    try {
      await waitFor(async () => (await lockWaits()) > 0);
    } finally {
      openGate();
    }

    const stale = await first;
    assert.equal(stale?.type, ATTEMPT_SUPERSEDED);
    const staged = await retry;
    assert.equal(staged.rowsValid, 2000);
    assert.equal(staged.rowsWithErrors, 0, 'no row of the stale attempt is left to look like a duplicate');
    await engine.planChanges({ runId }, new Date(base + 2000));
    await engine.applyChanges({ runId }, new Date(base + 3000));
    await engine.finishRun({ runId, status: 'succeeded' });
    await assertEveryoneCreatedOnce(h, runId);
  });

  async function activeQueries(like: string): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND state = 'active' AND query LIKE $1`,
      [like],
    );
    return rows[0].n;
  }

  async function lockWaits(): Promise<number> {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0].n;
  }

  it('a plan row can exist only once per file row, and an archive once per user', async () => {
    const { h, engine } = await district();
    const runId = await h.newRun({ name: 'roster.csv', text: rosterText(people(3)) });
    await engine.stageFile({ runId });
    await engine.planChanges({ runId });
    await assert.rejects(
      db.pool.query(
        `INSERT INTO run_plan (run_id, action, user_id, row_number)
         SELECT run_id, action, gen_random_uuid(), row_number FROM run_plan WHERE run_id = $1`,
        [runId],
      ),
      /run_plan_one_per_row/,
    );
    await assert.rejects(
      db.pool.query(
        `INSERT INTO run_plan (run_id, action, user_id)
         SELECT run_id, 'archive', user_id FROM run_plan WHERE run_id = $1
         UNION ALL SELECT run_id, 'archive', user_id FROM run_plan WHERE run_id = $1`,
        [runId],
      ),
      /run_plan_one_archive_per_user/,
    );
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
