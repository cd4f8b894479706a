import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { endedRun, postDistrict, startWorkerStack, type WorkerStack } from '../../support/worker-stack';
import { API_TOKEN, BASE_CONFIG } from './api-harness';

/**
 * The endpoints whose answer comes from a running district workflow (status query, a run's failure,
 * a retry), against the real workflows and activities on a real worker.
 */
describe('API with a running worker: schedule status, failed runs and retries', () => {
  let stack: WorkerStack;
  let app: INestApplication;
  let districtId: string;
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const api = () => request(app.getHttpServer() as Parameters<typeof request>[0]);
  const waitForRun = (runId: string) => endedRun(app, API_TOKEN, { districtId, runId });

  before(async () => {
    stack = await startWorkerStack({
      name: 'api-live',
      mailCatcher: true,
      // Read a file as soon as it is there: no upload is in progress in these tests.
      settings: { API_TOKEN, FETCH_QUIET_SECONDS: '0' },
    });
    // The production worker: schedules and runs on their own task queues, the real activities.
    await stack.startWorker();
    app = await stack.startApi();
    districtId = await postDistrict(app, API_TOKEN, { name: 'Shelbyville', slug: 'shelbyville' });
  });

  after(async () => {
    await stack?.close();
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
