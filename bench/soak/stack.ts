import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createApiApp } from '../../apps/api/app';
import { loadEnv } from '../../lib/config/env';
import { createPool } from '../../lib/db/pool';
import { migrate } from '../../lib/db/migrate';
import { freePort } from '../../scripts/dev/embedded-postgres';
import { startTestTemporal } from '../../test/support/temporal';
import { PostgresProcess } from './postgres-process';
import { SmtpMailbox } from './smtp-mailbox';
import { WorkerProcess } from './worker-process';

/**
 * The whole system on loopback, in one data folder the soak owns: a durable Postgres cluster, the
 * Temporal dev server, the API (in this process, as createApiApp builds it), the production worker
 * as a child process, and an SMTP server. Hosted SFTP folders are written directly under
 * DATA_DIR/sftp/<slug>, where the hosted server would put finished uploads.
 */
export interface Stack {
  dataDir: string;
  apiUrl: string;
  apiToken: string;
  /** Folder a district's hosted uploads land in. */
  hostedFolder(slug: string): string;
  postgres: PostgresProcess;
  /** A pool of the soak's own, for the invariant checks. */
  pool: Pool;
  smtp: SmtpMailbox;
  worker: WorkerProcess;
}

/**
 * How to stop what has been started so far, last started first. The caller holds it from before
 * the first part starts, so Ctrl-C in the middle of starting stops what is already up; a part that
 * comes up after that is stopped as soon as it is added.
 */
export class StopList {
  private readonly steps: Array<() => Promise<void>> = [];
  private stopped = false;

  constructor(private readonly log: (line: string) => void) {}

  push(step: () => Promise<void>): void {
    if (this.stopped) void step().catch((err: Error) => this.log(`stop: ${err.message}`));
    else this.steps.push(step);
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    for (const step of this.steps.splice(0).reverse())
      await step().catch((err: Error) => this.log(`stop: ${err.message}`));
  }
}

export async function startStack(
  dataDir: string,
  stops: StopList,
  log: (line: string) => void,
): Promise<Stack> {
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    log('starting Postgres (durable, loopback)...');
    const postgres = await PostgresProcess.start(path.join(dataDir, 'postgres'), await freePort());
    stops.push(() => postgres.stop());
    await migrate(postgres.url);
    const pool = createPool(postgres.url, 4);
    stops.push(() => pool.end());

    log('starting the Temporal dev server (loopback)...');
    const temporal: TestWorkflowEnvironment = await startTestTemporal();
    stops.push(() => temporal.teardown());

    const smtp = await SmtpMailbox.start();
    stops.push(() => smtp.close());

    const apiToken = crypto.randomBytes(24).toString('hex');
    const settings: Record<string, string> = {
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: 'soak',
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      API_TOKEN: apiToken,
      SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      // The hostile district's own server is on loopback.
      EXTERNAL_SFTP_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'warn',
      // A soak runs each district far more often than a district may ask for runs; that limit is
      // not what it measures. Set it in the environment to soak with the limit on.
      SYNC_NOW_PER_HOUR: process.env.SYNC_NOW_PER_HOUR ?? '1000000',
      // A stalled fetch fails each attempt after these and is retried 10 times with backoff: with
      // the defaults (20 s, 20 s, 60 s) a trickling server's run takes about 16 minutes to fail,
      // with these about 8, which a soak of a few minutes can wait for.
      FETCH_OPERATION_TIMEOUT_SECONDS: process.env.FETCH_OPERATION_TIMEOUT_SECONDS ?? '5',
      FETCH_STALL_SECONDS: process.env.FETCH_STALL_SECONDS ?? '5',
      FETCH_THROUGHPUT_WINDOW_SECONDS: process.env.FETCH_THROUGHPUT_WINDOW_SECONDS ?? '10',
    };

    log('starting the worker process...');
    const worker = new WorkerProcess({ ...process.env, ...settings }, path.join(dataDir, 'worker.log'));
    stops.push(() => worker.stop());
    await worker.start();

    // The API logs every request that fails while Postgres is down; the report says what matters.
    const env = loadEnv({ ...settings, API_PORT: String(await freePort()), LOG_LEVEL: 'fatal' });
    const apiPool = createPool(postgres.url);
    stops.push(() => apiPool.end());
    const app: INestApplication = await createApiApp({ env, pool: apiPool, temporalClient: temporal.client });
    await app.listen(env.API_PORT, '127.0.0.1');
    stops.push(() => app.close());

    return {
      dataDir,
      apiUrl: `http://127.0.0.1:${env.API_PORT}`,
      apiToken,
      hostedFolder: (slug) => path.join(dataDir, 'sftp', slug),
      postgres,
      pool,
      smtp,
      worker,
    };
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}
