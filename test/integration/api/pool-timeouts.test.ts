import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Pool } from 'pg';
import { createPool, type PoolRole } from '../../../lib/db/pool';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

type Settings = Record<string, string>;

/** What Postgres itself reports for a connection handed out by the pool. */
async function sessionSettings(pool: Pool): Promise<Settings> {
  const { rows } = await pool.query<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings
     WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout',
                    'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count', 'application_name')`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}

const EXPECTED: Record<PoolRole, Settings> = {
  // milliseconds for the timeouts, seconds for keepalives
  api: { statement_timeout: '30000', lock_timeout: '10000', idle_in_transaction_session_timeout: '30000' },
  'api-exports': {
    statement_timeout: String(30 * 60_000),
    lock_timeout: '10000',
    idle_in_transaction_session_timeout: '30000',
  },
  'api-limits': {
    statement_timeout: '2000',
    lock_timeout: '1000',
    idle_in_transaction_session_timeout: '5000',
  },
  sftp: { statement_timeout: '30000', lock_timeout: '10000', idle_in_transaction_session_timeout: '30000' },
  // The worker's apply is one transaction of up to an hour (HEAVY).
  worker: {
    statement_timeout: String(60 * 60_000),
    lock_timeout: String(15 * 60_000),
    idle_in_transaction_session_timeout: String(15 * 60_000),
  },
};

describe('database pools: every connection carries the timeouts of its role', () => {
  let db: TestDatabase;
  const pools: Pool[] = [];

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db.drop();
  });

  for (const role of Object.keys(EXPECTED) as PoolRole[]) {
    it(`${role}: statement, lock and idle-in-transaction timeouts and TCP keepalive`, async () => {
      const pool = createPool(db.url, 2, role);
      pools.push(pool);
      const settings = await sessionSettings(pool);
      assert.deepEqual(
        {
          statement_timeout: settings.statement_timeout,
          lock_timeout: settings.lock_timeout,
          idle_in_transaction_session_timeout: settings.idle_in_transaction_session_timeout,
        },
        EXPECTED[role],
      );
      // Postgres probes a silent client after 30 s, every 10 s, 3 times: a dead worker host loses
      // its session (and the district's advisory lock) within about a minute.
      assert.equal(settings.tcp_keepalives_idle, '30');
      assert.equal(settings.tcp_keepalives_interval, '10');
      assert.equal(settings.tcp_keepalives_count, '3');
      assert.equal(settings.application_name, `rostersync-${role}`);
    });
  }
});
