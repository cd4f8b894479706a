import { Logger } from '@nestjs/common';
import { loadEnv } from '../../lib/config/env';
import { createPool } from '../../lib/db/pool';
import { connectClient } from '../../lib/temporal/connection';
import { createApiApp } from './app';

const RATE_LIMIT_CONNECTIONS = 3;

/** Entry point: connect Postgres and Temporal, serve on API_HOST:API_PORT, close everything on SIGINT/SIGTERM. */
async function run(): Promise<void> {
  const env = loadEnv();
  const pool = createPool(env.DATABASE_URL, 10, 'api');
  // Report downloads last as long as the client reads: they get connections of their own.
  const exportsPool = createPool(env.DATABASE_URL, env.API_EXPORT_CONNECTIONS, 'api-exports');
  // Rate limit counters: one short upsert per request, so a few connections keep up with thousands a second.
  const limitsPool = createPool(env.DATABASE_URL, RATE_LIMIT_CONNECTIONS, 'api-limits');
  const endPools = async (): Promise<void> => {
    await Promise.all([pool.end(), exportsPool.end(), limitsPool.end()]);
  };
  // Fail at boot, not at the first request, when Postgres or Temporal is unreachable.
  await pool.query('SELECT 1').catch(async (err: Error) => {
    await endPools();
    throw new Error(`Cannot reach Postgres at DATABASE_URL: ${err.message}`);
  });
  const temporalClient = await connectClient(env).catch(async (err: Error) => {
    await endPools();
    throw new Error(`Cannot reach Temporal at TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS}: ${err.message}`);
  });
  try {
    const app = await createApiApp({ env, pool, exportsPool, limitsPool, temporalClient });
    await app.listen(env.API_PORT, env.API_HOST);
    new Logger('Main').log(
      `rostersync API listening on http://${env.API_HOST}:${env.API_PORT}` +
        (env.API_DOCS ? ' (docs at /docs)' : ''),
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    // Stop accepting requests, let in-flight ones finish, then release the connections.
    await app.close();
  } finally {
    await temporalClient.connection.close();
    await endPools();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
