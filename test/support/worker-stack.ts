import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import request from 'supertest';
import type { SyncActivities } from '../../activities/types';
import { createApiApp } from '../../apps/api/app';
import {
  createWorker,
  parseWorkerSettings,
  type SyncWorker,
  type WorkerTuning,
} from '../../apps/worker/worker';
import type { Env } from '../../lib/config/env';
import { startSmtpCatcher, type SmtpCatcher } from '../../scripts/dev/smtp-catcher';
import { testEnv } from './env';
import { createTestDatabase, type TestDatabase } from './postgres';
import { startTestTemporal } from './temporal';

/**
 * What the tests of whole runs stand on: a private database, the Temporal dev server, a data
 * folder (hosted SFTP folders and artifacts), optionally the dev SMTP catcher, and the settings
 * the worker and the API boot with. The test starts the worker and the API it needs on it.
 */
export interface WorkerStack {
  db: TestDatabase;
  temporal: TestWorkflowEnvironment;
  dataDir: string;
  /** Present when the stack was started with `mailCatcher`: SMTP_URL points at it. */
  catcher?: SmtpCatcher;
  env: Readonly<Env>;
  /**
   * Starts a worker and runs it until close(): the production worker (real activities) by default,
   * or the production workflows with `activities` on TEMPORAL_TASK_QUEUE and its runs queue.
   */
  startWorker(activities?: SyncActivities, tuning?: WorkerTuning): Promise<SyncWorker>;
  /** The API over the stack's database and Temporal, closed by close(). */
  startApi(): Promise<INestApplication>;
  /** Stops what runs on the stack, then the stack itself, whatever was started. */
  close(): Promise<void>;
}

export interface WorkerStackOptions {
  /** Names the data folder and the task queue. */
  name: string;
  mailCatcher?: boolean;
  /** Environment variables on top of the stack's own (database, data folder, queue, silent logs). */
  settings?: Record<string, string>;
}

export type WorkerStackWithMail = WorkerStack & { catcher: SmtpCatcher };

export async function startWorkerStack(
  opts: WorkerStackOptions & { mailCatcher: true },
): Promise<WorkerStackWithMail>;
export async function startWorkerStack(opts: WorkerStackOptions): Promise<WorkerStack>;
export async function startWorkerStack(opts: WorkerStackOptions): Promise<WorkerStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `rostersync-${opts.name}-`));
  const [db, temporal, catcher] = await Promise.all([
    createTestDatabase(),
    startTestTemporal(),
    opts.mailCatcher ? startSmtpCatcher({ dir: path.join(dataDir, 'mail'), smtpPort: 0 }) : undefined,
  ]);
  const env = testEnv(
    { db, dataDir },
    {
      TEMPORAL_TASK_QUEUE: `${opts.name}-${crypto.randomUUID()}`,
      LOG_LEVEL: 'silent',
      ...(catcher ? { SMTP_URL: `smtp://127.0.0.1:${catcher.smtpPort}` } : {}),
      ...opts.settings,
    },
  );
  const workers: Array<{ worker: SyncWorker; running: Promise<void> }> = [];
  const apps: INestApplication[] = [];
  return {
    db,
    temporal,
    dataDir,
    catcher,
    env,
    async startWorker(activities, tuning) {
      const worker = await createWorker(
        activities
          ? {
              connection: temporal.nativeConnection,
              activities,
              env: parseWorkerSettings({ TEMPORAL_TASK_QUEUE: env.TEMPORAL_TASK_QUEUE }),
            }
          : { connection: temporal.nativeConnection, pool: db.pool, env },
        tuning,
      );
      workers.push({ worker, running: worker.run() });
      return worker;
    },
    async startApi() {
      const app = await createApiApp({ env, pool: db.pool, temporalClient: temporal.client });
      apps.push(app);
      return app;
    },
    async close() {
      for (const app of apps) await app.close();
      for (const { worker } of workers) worker.shutdown();
      for (const { running } of workers) await running;
      await temporal.teardown();
      await catcher?.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a district in Chicago time through the API, as an admin does; its id. */
export async function postDistrict(
  app: INestApplication,
  token: string,
  district: { name: string; slug: string },
): Promise<string> {
  const res = await request(app.getHttpServer() as Parameters<typeof request>[0])
    .post('/districts')
    .set({ authorization: `Bearer ${token}` })
    .send({ ...district, timeZone: 'America/Chicago' })
    .expect(201);
  return res.body.id as string;
}

const ENDED = ['succeeded', 'failed', 'held', 'discarded'];

/** Polls the API for the run until it has ended, as an admin waits on the run page; its body. */
export async function endedRun(
  app: INestApplication,
  token: string,
  where: { districtId: string; runId: string },
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(app.getHttpServer() as Parameters<typeof request>[0])
      .get(`/districts/${where.districtId}/runs/${where.runId}`)
      .set({ authorization: `Bearer ${token}` })
      .expect(200);
    if (ENDED.includes(res.body.status as string)) return res.body as Record<string, unknown>;
    if (Date.now() > deadline)
      assert.fail(`run ${where.runId} still ${res.body.status} after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
