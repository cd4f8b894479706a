import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client, type Pool } from 'pg';
import { createPool } from '../../lib/db/pool';
import { migrate } from '../../lib/db/migrate';
import { freePort, startEmbeddedPostgres } from '../../scripts/dev/embedded-postgres';

/**
 * Each test file gets its own database, cloned from a migrated template, so files run in parallel
 * without seeing each other's rows. The test runner starts one cluster and sets TEST_PG_ADMIN_URL;
 * a file run on its own starts a private cluster instead.
 */
export const TEMPLATE_DB = 'rostersync_template';

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

let privateCluster: Promise<string> | undefined;

async function adminUrl(): Promise<string> {
  if (process.env.TEST_PG_ADMIN_URL) return process.env.TEST_PG_ADMIN_URL;
  privateCluster ??= (async () => {
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(os.tmpdir(), `rostersync-pg-${process.pid}`),
      port: await freePort(),
      database: 'postgres',
      durable: false,
    });
    process.once('exit', () => void pg.stop());
    await prepareTemplate(pg.url);
    return pg.url;
  })();
  return await privateCluster;
}

/** Creates and migrates the template database (once per cluster). */
export async function prepareTemplate(admin: string): Promise<void> {
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
    await client.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  } finally {
    await client.end();
  }
  await migrate(withDatabase(admin, TEMPLATE_DB));
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = await adminUrl();
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`);
  } finally {
    await client.end();
  }
  const url = withDatabase(admin, name);
  const pool = createPool(url, 5);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      const c = new Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
