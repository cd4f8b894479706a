import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import request from 'supertest';
import { createApiApp } from '../../../apps/api/app';
import { createWorker, type SyncWorker } from '../../../apps/worker/worker';
import { loadEnv } from '../../../lib/config/env';
import { startSmtpCatcher, type SmtpCatcher } from '../../../scripts/dev/smtp-catcher';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { startTestTemporal } from '../../support/temporal';
import { API_TOKEN, BASE_CONFIG } from './api-harness';

/**
 * The endpoints whose answer comes from a running district workflow (status query, a run's failure,
 * a retry), against the real workflows and activities on a real worker.
 */
describe('API with a running worker: schedule status, failed runs and retries', () => {
  let db: TestDatabase;
  let temporal: TestWorkflowEnvironment;
  let catcher: SmtpCatcher;
  let app: INestApplication;
  let worker: SyncWorker;
  let workerRun: Promise<void>;
  let dataDir: string;
  let districtId: string;
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const api = () => request(app.getHttpServer() as Parameters<typeof request>[0]);

  async function waitForRun(runId: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await api().get(`/districts/${districtId}/runs/${runId}`).set(auth).expect(200);
      if (['succeeded', 'failed', 'held', 'discarded'].includes(res.body.status as string)) return res.body;
      if (Date.now() > deadline) assert.fail(`run ${runId} still ${res.body.status} after 60s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-api-live-'));
    [db, temporal, catcher] = await Promise.all([
      createTestDatabase(),
      startTestTemporal(),
      startSmtpCatcher({ dir: path.join(dataDir, 'mail'), smtpPort: 0 }),
    ]);
    const env = loadEnv({
      DATABASE_URL: db.url,
      API_TOKEN,
      SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      TEMPORAL_TASK_QUEUE: `api-live-${crypto.randomUUID()}`,
      SMTP_URL: `smtp://127.0.0.1:${catcher.smtpPort}`,
      LOG_LEVEL: 'silent',
      // Read a file as soon as it is there: no upload is in progress in these tests.
      FETCH_QUIET_SECONDS: '0',
    });
    // The production worker: schedules and runs on their own task queues, the real activities.
    worker = await createWorker({ connection: temporal.nativeConnection, pool: db.pool, env });
    workerRun = worker.run();
    app = await createApiApp({ env, pool: db.pool, temporalClient: temporal.client });
    const district = await api()
      .post('/districts')
      .set(auth)
      .send({ name: 'Shelbyville', slug: 'shelbyville', timeZone: 'America/Chicago' })
      .expect(201);
    districtId = district.body.id as string;
  });

  after(async () => {
    await app?.close();
    worker?.shutdown();
    await workerRun;
    await temporal?.teardown();
    await catcher?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("reports the schedule from the district workflow's own status query", async () => {
    await api()
      .put(`/districts/${districtId}/sync-config`)
      .set(auth)
      .send({ ...BASE_CONFIG, startDate: '2026-01-05', timeOfDay: '02:00', notifyEmails: [] })
      .expect(200);
    const res = await api().get(`/districts/${districtId}/sync-status`).set(auth).expect(200);
    assert.equal(res.body.started, true);
    assert.equal(res.body.enabled, true);
    assert.equal(res.body.frequency, 'daily');
    // 02:00 in Chicago is 08:00 or 07:00 UTC depending on DST.
    assert.match(res.body.nextRunLocal as string, /T02:00:00\.000-0[56]:00$/);
    assert.ok(Date.parse(res.body.nextRunAt as string) > Date.now());
  });

  it('shows why a run failed, and retries it as a new run linked to the first', async () => {
    // Nothing was uploaded: the run fails with FileNotFound and says so.
    const started = await api().post(`/districts/${districtId}/sync-now`).set(auth).send({}).expect(202);
    const failed = await waitForRun(started.body.runId as string);
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    assert.equal(failed.failureType, 'FileNotFound');
    assert.ok((failed.failureMessage as string).length > 10);
    await api()
      .post(`/districts/${districtId}/runs/${failed.id as string}/approve`)
      .set(auth)
      .expect(409);

    const retried = await api()
      .post(`/districts/${districtId}/runs/${failed.id as string}/retry`)
      .set(auth)
      .expect(202);
    const retry = await waitForRun(retried.body.runId as string);
    assert.equal(retry.trigger, 'retry');
    assert.equal(retry.retryOf, failed.id);
    const history = await api().get(`/districts/${districtId}/runs`).set(auth).expect(200);
    assert.deepEqual(
      (history.body.runs as Array<{ id: string }>).map((r) => r.id),
      [retry.id, failed.id],
    );
    // The run row is final a moment before the district workflow hears its child ended.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const status = await api().get(`/districts/${districtId}/sync-status`).set(auth).expect(200);
      if (status.body.lastOutcome?.runId === retry.id) {
        assert.equal(status.body.lastOutcome.status, 'failed');
        break;
      }
      if (Date.now() > deadline)
        assert.fail(`last outcome is still ${JSON.stringify(status.body.lastOutcome)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
