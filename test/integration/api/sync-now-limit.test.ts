import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorker, type SyncWorker } from '../../../apps/worker/worker';
import { type ApiHarness, BASE_CONFIG, createDistrict, issueKey, startApi } from './api-harness';

const PER_HOUR = 3;
/** No admin mail: a run ends as soon as its outcome is recorded. */
const CONFIG = { ...BASE_CONFIG, notifyEmails: [] };

interface RunBody {
  id: string;
  status: string;
  failureMessage: string | null;
}

/**
 * Sync Now per district per hour, against the production worker: runs really start (and fail with
 * FileNotFound, nothing was uploaded), and runs merged while the worker is away really coalesce.
 */
describe('API: Sync Now is rate limited per district', () => {
  let h: ApiHarness;
  let worker: SyncWorker | undefined;
  let workerRun: Promise<void> | undefined;
  let district: { id: string };
  let key: string;

  async function startWorker(): Promise<void> {
    worker = await createWorker(
      { connection: h.temporal.nativeConnection, pool: h.db.pool, env: h.env },
      { stickyQueueScheduleToStartTimeout: '1s' },
    );
    workerRun = worker.run();
  }
  async function stopWorker(): Promise<void> {
    worker?.shutdown();
    await workerRun;
    worker = undefined;
  }

  const syncNow = (districtId = district.id) => h.api().post(`/districts/${districtId}/sync-now`).send({});
  const run = async (runId: string): Promise<RunBody> =>
    (await h.api().get(`/districts/${district.id}/runs/${runId}`).expect(200)).body as RunBody;
  async function waitUntilEnded(runId: string): Promise<RunBody> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const body = await run(runId);
      if (['succeeded', 'failed', 'discarded', 'held'].includes(body.status)) return body;
      if (Date.now() > deadline) {
        const all = await h.api().get(`/districts/${district.id}/runs?limit=100`);
        const status = await h.api().get(`/districts/${district.id}/sync-status`);
        assert.fail(`run ${runId} still ${body.status}: ${all.text} ${status.text}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    h = await startApi({ SYNC_NOW_PER_HOUR: String(PER_HOUR), FETCH_QUIET_SECONDS: '0' });
    district = await createDistrict(h);
    key = await issueKey(h, district.id);
    await h.api().put(`/districts/${district.id}/sync-config`).send(CONFIG).expect(200);
    await startWorker();
  });
  after(async () => {
    await stopWorker();
    await h.close();
  });

  /** Signals the district workflow's current execution has received (the server records them even with no worker). */
  async function signalsReceived(districtId = district.id): Promise<number> {
    const history = await h.temporal.client.workflow.getHandle(`district-sync:${districtId}`).fetchHistory();
    return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  }
  const historyTotal = async (districtId = district.id): Promise<number> =>
    (await h.api().get(`/districts/${districtId}/runs?limit=100`).expect(200)).body.total as number;

  it('counts runs that started; Sync Nows while one is queued join it, and a refusal says when to try again', async () => {
    // One run starts and ends.
    const first = (await syncNow().expect(202)).body.runId as string;
    assert.equal((await waitUntilEnded(first)).status, 'failed');

    // While the worker is away, the first Sync Now queues a run; every later one joins it, sequential
    // or concurrent, creating no run row and sending the workflow nothing.
    await stopWorker();
    const queued = (await syncNow().expect(202)).body as { runId: string; joinedQueuedRun: boolean };
    assert.equal(queued.joinedQueuedRun, false);
    const signalsBefore = await signalsReceived();
    const joined = [(await syncNow().expect(202)).body];
    joined.push(
      ...(await Promise.all(Array.from({ length: 6 }, () => syncNow().expect(202)))).map((r) => r.body),
    );
    for (const body of joined) assert.deepEqual(body, { runId: queued.runId, joinedQueuedRun: true });
    assert.equal(await historyTotal(), 2);
    assert.equal(await signalsReceived(), signalsBefore);
    await startWorker();
    assert.equal((await waitUntilEnded(queued.runId)).status, 'failed');

    // Two runs so far: one more is allowed, with the district's own key as with the operator's.
    const third = await h
      .api()
      .post(`/districts/${district.id}/sync-now`)
      .set('Authorization', `Bearer ${key}`)
      .send({})
      .expect(202);
    assert.equal((await waitUntilEnded(third.body.runId as string)).status, 'failed');

    const refused = await syncNow();
    assert.equal(refused.status, 429, refused.text);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter > 3300 && retryAfter <= 3600, `Retry-After: ${refused.headers['retry-after']}`);
    assert.equal(refused.body.error, 'Too Many Requests');
    assert.match(
      refused.body.message as string,
      /has had 3 runs from Sync Now and retries in the last hour, the most allowed \(SYNC_NOW_PER_HOUR=3\)\. Try again in (59|60) minutes; scheduled runs/,
    );
    // A refused Sync Now leaves no run behind.
    assert.equal(await historyTotal(), 3);

    // A retry of a failed run counts the same way.
    await h.api().post(`/districts/${district.id}/runs/${first}/retry`).expect(429);
  });

  it('holds the limit exactly when requests at the last free run arrive together', async () => {
    if (!worker) await startWorker();
    const other = await createDistrict(h);
    await h.api().put(`/districts/${other.id}/sync-config`).send(CONFIG).expect(200);
    const runOf = (districtId: string) => async (runId: string) => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const body = (await h.api().get(`/districts/${districtId}/runs/${runId}`).expect(200))
          .body as RunBody;
        if (body.status !== 'queued' && body.status !== 'running') return body;
        assert.ok(Date.now() < deadline, `run ${runId} still ${body.status}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    // Another district has a budget of its own.
    for (let i = 0; i < PER_HOUR - 1; i++)
      await runOf(other.id)((await syncNow(other.id).expect(202)).body.runId as string);

    const together = await Promise.all(Array.from({ length: 4 }, () => syncNow(other.id)));
    const admitted = together.filter((r) => r.status === 202).map((r) => r.body as { runId: string });
    for (const r of together) assert.ok([202, 429].includes(r.status), r.text);
    assert.ok(admitted.length >= 1, 'the last free run was refused');
    // However they interleave, they share the one run: the district never gets more than its limit.
    assert.equal(new Set(admitted.map((b) => b.runId)).size, 1, JSON.stringify(admitted));
    await runOf(other.id)(admitted[0].runId);
    assert.equal(await historyTotal(other.id), PER_HOUR);
    assert.equal((await syncNow(other.id)).status, 429);
  });
});
