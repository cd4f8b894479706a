import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import request from 'supertest';
import { createApiApp } from '../../../apps/api/app';
import type { Pool } from 'pg';
import { type Env, loadEnv } from '../../../lib/config/env';
import { createPool } from '../../../lib/db/pool';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { useForSuite } from '../../support/suite';
import { startTestTemporal } from '../../support/temporal';

export const API_TOKEN = 'test-token-' + 'x'.repeat(24);

/** One API over a private database and the real Temporal dev server, as a test file's fixture. */
export interface ApiHarness {
  app: INestApplication;
  db: TestDatabase;
  temporal: TestWorkflowEnvironment;
  env: Readonly<Env>;
  dataDir: string;
  /** The API's own pools, with the timeouts production gives them. */
  pools: { api: Pool; exports: Pool; limits: Pool };
  /** supertest agent with the bearer token set. */
  api: () => ReturnType<typeof bearerAgent>;
  /** supertest without credentials. */
  anon: () => request.Agent;
  /** Every response body the authenticated agent received, to scan for leaked secrets. */
  responses: string[];
  close(): Promise<void>;
}

/** supertest with `token` as the bearer credential; every response body it receives joins `responses`. */
export function bearerAgent(app: INestApplication, token: string, responses: string[]) {
  const server = app.getHttpServer() as Parameters<typeof request>[0];
  const agent = request(server);
  const record = (test: request.Test): request.Test =>
    test.set('Authorization', `Bearer ${token}`).on('response', (res: { text?: string }) => {
      if (typeof res.text === 'string') responses.push(res.text);
    });
  return {
    get: (url: string) => record(agent.get(url)),
    post: (url: string) => record(agent.post(url)),
    put: (url: string) => record(agent.put(url)),
    patch: (url: string) => record(agent.patch(url)),
    delete: (url: string) => record(agent.delete(url)),
  };
}

/** `settings` are environment variables on top of the test defaults, e.g. low limits. */
export async function startApi(settings: Record<string, string> = {}): Promise<ApiHarness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-api-'));
  const [db, temporal] = await Promise.all([createTestDatabase(), startTestTemporal()]);
  const env = loadEnv({
    DATABASE_URL: db.url,
    API_TOKEN,
    SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    TEMPORAL_TASK_QUEUE: `api-test-${crypto.randomBytes(4).toString('hex')}`,
    LOG_LEVEL: (process.env.TEST_LOG_LEVEL as Env['LOG_LEVEL'] | undefined) ?? 'silent',
    ...settings,
  });
  const pools = {
    api: createPool(db.url, 10, 'api'),
    exports: createPool(db.url, env.API_EXPORT_CONNECTIONS, 'api-exports'),
    limits: createPool(db.url, 3, 'api-limits'),
  };
  const app = await createApiApp({
    env,
    pool: pools.api,
    exportsPool: pools.exports,
    limitsPool: pools.limits,
    temporalClient: temporal.client,
  });
  const responses: string[] = [];
  return {
    responses,
    app,
    db,
    temporal,
    env,
    dataDir,
    pools,
    api: () => bearerAgent(app, API_TOKEN, responses),
    anon: () => request.agent(app.getHttpServer() as Parameters<typeof request>[0]),
    close: async () => {
      await app.close();
      await Promise.all([pools.api.end(), pools.exports.end(), pools.limits.end()]);
      await temporal.teardown();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An API for the enclosing suite: started before its tests, closed after them. */
export function useApi(settings: Record<string, string> = {}): ApiHarness {
  return useForSuite(
    () => startApi(settings),
    (h) => h.close(),
  );
}

let seq = 0;
/** Creates a district through the API and returns its id. */
export async function createDistrict(h: ApiHarness, slug?: string): Promise<{ id: string; slug: string }> {
  const s = slug ?? `district-${process.pid}-${++seq}`;
  const res = await h
    .api()
    .post('/districts')
    .send({ name: `District ${s}`, slug: s, timeZone: 'America/Chicago' })
    .expect(201);
  return { id: (res.body as { id: string }).id, slug: s };
}

export const BASE_CONFIG = {
  enabled: true,
  frequency: 'daily',
  startDate: '2026-01-05',
  timeOfDay: '02:00',
  source: 'hosted',
  fileRule: 'latest',
  processOnArrival: false,
  matchingKey: 'email',
  coachingGroups: [],
  errorThresholdPct: -1,
  maxArchivePct: 10,
  maxArchiveCount: 500,
  maxRowDropPct: 20,
  welcomeEmails: false,
  notifyEmails: ['it@district.example'],
  notifyOnSuccess: false,
} as const;

/** Issues a district API key with the operator token and returns it. */
export async function issueKey(h: ApiHarness, districtId: string): Promise<string> {
  const res = await h.api().post(`/districts/${districtId}/api-keys`).expect(201);
  return (res.body as { key: string }).key;
}

/**
 * A bad email on each of `rows` rows (from row 2) of the run: a district file that is wrong on every
 * line, the biggest errors report a district can make.
 */
export async function addInvalidEmailRows(h: ApiHarness, runId: string, rows: number): Promise<void> {
  await h.db.pool.query(
    `INSERT INTO run_errors (run_id, row_number, column_name, value, code, severity, message)
     SELECT $1, n, 'Email', 'someone-' || n || '@@example.org', 'INVALID_EMAIL', 'error',
            'Email is not a valid address: fix it in your source system and export again'
     FROM generate_series(2, $2::int + 1) AS n`,
    [runId, rows],
  );
}

/** Listens on a free loopback port and returns the base URL (the app stops with h.close()). */
export async function listen(h: ApiHarness): Promise<string> {
  await h.app.listen(0, '127.0.0.1');
  const address = (h.app.getHttpServer() as http.Server).address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  return `http://127.0.0.1:${address.port}`;
}
