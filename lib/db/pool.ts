import { Pool, types } from 'pg';

// bigint counts (COUNT(*), file sizes) fit comfortably in a JS number for our volumes.
types.setTypeParser(types.builtins.INT8, (value) => Number(value));
// Keep DATE columns as 'YYYY-MM-DD' strings: a district's start date is a calendar date, not an instant.
types.setTypeParser(types.builtins.DATE, (value) => value);

/** Which process (and which of its pools) a pool serves: each has timeouts suited to its work. */
export type PoolRole = 'api' | 'api-exports' | 'api-limits' | 'sftp' | 'worker';

interface SessionLimits {
  /** Longest single statement. */
  statementSeconds: number;
  /** Longest wait for a row, table or advisory lock. */
  lockSeconds: number;
  /** Longest pause inside an open transaction before Postgres ends the session (and its locks). */
  idleInTransactionSeconds: number;
  /** Longest wait for a connection, whether opening one or waiting for a free one in the pool. */
  connectSeconds: number;
}

const MINUTE = 60;

/**
 * Per role, in one place (the README's configuration section lists them):
 * - api: requests run short indexed queries; anything slower is a bug or an attack. A request that
 *   cannot get a connection within seconds answers 503 rather than queueing behind others.
 * - api-exports: a report's COPY lasts as long as the client reads; the send timeout cuts a client
 *   that stops reading, this bounds a slow one that never stops.
 * - api-limits: one counter upsert per request; a request that cannot count within a second is
 *   refused (503) rather than queued, so a flood never holds requests for long.
 * - sftp: logins and upload bookkeeping, short statements.
 * - worker: the apply is one transaction of up to an hour (HEAVY in workflows/activity-options.ts);
 *   a mail batch keeps its transaction open while the SMTP server answers. A lock wait longer than
 *   a quarter of an hour means a stale attempt holds it: the attempt fails and Temporal retries.
 *   Activities share the pool, so waiting a minute for a free connection is normal under load.
 */
export const POOL_LIMITS: Readonly<Record<PoolRole, SessionLimits>> = Object.freeze({
  api: { statementSeconds: 30, lockSeconds: 10, idleInTransactionSeconds: 30, connectSeconds: 10 },
  'api-exports': {
    statementSeconds: 30 * MINUTE,
    lockSeconds: 10,
    idleInTransactionSeconds: 30,
    connectSeconds: 10,
  },
  'api-limits': { statementSeconds: 2, lockSeconds: 1, idleInTransactionSeconds: 5, connectSeconds: 1 },
  sftp: { statementSeconds: 30, lockSeconds: 10, idleInTransactionSeconds: 30, connectSeconds: 10 },
  worker: {
    statementSeconds: 60 * MINUTE,
    lockSeconds: 15 * MINUTE,
    idleInTransactionSeconds: 15 * MINUTE,
    connectSeconds: MINUTE,
  },
});

/**
 * TCP keepalive on both ends: the client notices a dead database host, and Postgres notices a dead
 * client host (a worker that died mid-apply) within about a minute instead of the kernel's two hours,
 * ending its session so the district's advisory lock is released.
 */
const KEEPALIVE_IDLE_SECONDS = 30;
const KEEPALIVE_INTERVAL_SECONDS = 10;
const KEEPALIVE_PROBES = 3;

/** Tools, tests and benchmarks run worker code, so the worker's limits are the default. */
export function createPool(databaseUrl: string, max = 10, role: PoolRole = 'worker'): Pool {
  const limits = POOL_LIMITS[role];
  const pool = new Pool({
    connectionString: databaseUrl,
    max,
    application_name: `rostersync-${role}`,
    connectionTimeoutMillis: limits.connectSeconds * 1000,
    statement_timeout: limits.statementSeconds * 1000,
    lock_timeout: limits.lockSeconds * 1000,
    idle_in_transaction_session_timeout: limits.idleInTransactionSeconds * 1000,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_SECONDS * 1000,
    options: [
      `-c tcp_keepalives_idle=${KEEPALIVE_IDLE_SECONDS}`,
      `-c tcp_keepalives_interval=${KEEPALIVE_INTERVAL_SECONDS}`,
      `-c tcp_keepalives_count=${KEEPALIVE_PROBES}`,
    ].join(' '),
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor a checked-out one (a Postgres restart mid-query): its query rejects with the error, and a
  // client without an 'error' listener would also throw it from the socket, ending the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
