import { Client, Connection } from '@temporalio/client';
import { loadEnv } from '../../lib/config/env';
import { createPool } from '../../lib/db/pool';
import { createApiApp } from './app';

/** Entry point: connect Postgres and Temporal, serve on API_HOST:API_PORT, close everything on SIGINT/SIGTERM. */
async function run(): Promise<void> {
  const env = loadEnv();
  const pool = createPool(env.DATABASE_URL);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const temporalClient = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    const app = await createApiApp({ env, pool, temporalClient });
    await app.listen(env.API_PORT, env.API_HOST);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    // Stop accepting requests, let in-flight ones finish, then release the connections.
    await app.close();
  } finally {
    await connection.close();
    await pool.end();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
