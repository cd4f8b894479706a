import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { PoolClient } from 'pg';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { useSyncDistricts } from './sync-harness';

/**
 * A run's guard names the Postgres session holding its lock. A backend pid alone is not a session:
 * after a database restart a new session can get the pid of one that held a guard before.
 */
describe('run guard: the session holding it', () => {
  const sessions: PoolClient[] = [];
  // Declared first, so it runs first: the sessions go back to the pool before the database is dropped.
  after(() => {
    for (const s of sessions) s.release();
  });
  const { db, district } = useSyncDistricts();

  async function session(): Promise<PoolClient> {
    const s = await db.pool.connect();
    sessions.push(s);
    return s;
  }

  it('holds for its own session only: the same pid with another start time is not the holder', async () => {
    const h = await district({ matchingKey: 'email' });
    const runId = await h.newRun({
      name: 'roster.csv',
      text: 'First Name,Last Name,Email\nAda,Lovelace,ada@example.org\n',
    });
    const holder = new SyncRunsRepository(await session());
    await holder.lockRun(runId);
    const guard = await holder.takeGuard(runId, new Date());
    assert.ok(guard, 'the guard is taken');
    const runs = new SyncRunsRepository(db.pool);
    assert.equal(await runs.holdsGuard(runId, guard.token, guard), true);

    // What a session that began at another moment with the holder's pid looks like to the fence.
    const other = await (
      await session()
    ).query<{ start: string }>(
      `SELECT (extract(epoch FROM backend_start) * 1000000)::bigint::text AS start
       FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
    );
    assert.notEqual(other.rows[0].start, guard.backendStart);
    assert.equal(
      await runs.holdsGuard(runId, guard.token, { pid: guard.pid, backendStart: other.rows[0].start }),
      false,
      'a pid reused by a newer session does not hold the guard',
    );
    assert.equal(
      await runs.holdsGuard(runId, guard.token, {
        pid: guard.pid,
        backendStart: String(BigInt(guard.backendStart) + 1n),
      }),
      false,
      'the start time is compared to the microsecond',
    );
  });
});

describe('closing a run its district workflow lost', () => {
  const { db, district } = useSyncDistricts();

  it('closes a running or queued run, and leaves a held or ended run as it recorded', async () => {
    const h = await district({ matchingKey: 'email' });
    const runs = new SyncRunsRepository(db.pool);
    const failure = { type: 'RunAbandoned', message: 'lost' };
    const file = { name: 'roster.csv', text: 'First Name,Last Name,Email\nAda,Lovelace,ada@example.org\n' };

    const running = await h.newRun(file);
    assert.equal(await runs.abandon(running, failure), 'failed');
    const closed = await runs.get(running);
    assert.equal(closed?.failure_type, 'RunAbandoned');
    assert.ok(closed?.finished_at, 'a closed run has its end time');

    const queued = (await runs.create({ districtId: h.districtId, trigger: 'sync_now', dryRun: false })).id;
    assert.equal(await runs.abandon(queued, failure), 'failed');

    const held = await h.newRun(file);
    await runs.finish(held, 'held', { message: 'Over 50% of active users would be archived.' });
    assert.equal(await runs.abandon(held, failure), 'held');
    const review = await runs.get(held);
    assert.equal(review?.status, 'held');
    assert.equal(review?.failure_message, 'Over 50% of active users would be archived.');
    assert.equal(review?.finished_at, null);

    const done = await h.newRun(file);
    await runs.finish(done, 'succeeded', {});
    assert.equal(await runs.abandon(done, failure), 'succeeded');
    assert.equal((await runs.get(done))?.failure_type, null);

    assert.equal(await runs.abandon('00000000-0000-4000-8000-000000000000', failure), undefined);
  });
});
