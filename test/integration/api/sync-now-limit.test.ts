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

  it('counts runs that started, not Sync Nows merged into a queued run, and says when to try again', async () => {
    // One run starts and ends.
    const first = (await syncNow().expect(202)).body.runId as string;
    assert.equal((await waitUntilEnded(first)).status, 'failed');

    // While the worker is away, three Sync Nows wait: the district workflow merges them into one run.
    await stopWorker();
    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) waiting.push((await syncNow().expect(202)).body.runId as string);
    await startWorker();
    const ended = await Promise.all(waiting.map(waitUntilEnded));
    const ran = ended.filter((r) => r.status === 'failed');
    const merged = ended.filter((r) => r.status === 'discarded');
    assert.equal(ran.length, 1, JSON.stringify(ended));
    for (const r of merged) assert.match(r.failureMessage ?? '', /^Coalesced into run /);

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
    const history = await h.api().get(`/districts/${district.id}/runs?limit=100`).expect(200);
    assert.equal(history.body.total, 1 + waiting.length + 1);

    // A retry of a failed run counts the same way.
    await h.api().post(`/districts/${district.id}/runs/${first}/retry`).expect(429);

    // Another district has a budget of its own.
    const other = await createDistrict(h);
    await h.api().put(`/districts/${other.id}/sync-config`).send(CONFIG).expect(200);
    await syncNow(other.id).expect(202);
  });
});
