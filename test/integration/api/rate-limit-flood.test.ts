import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, createDistrict, issueKey, listen, startApi } from './api-harness';

/** Requests of the flood in flight at once, and in all: bounded, and far above the counter pool. */
const CONCURRENT = 200;
const TOTAL = 2000;

/**
 * A flood of requests without a valid credential, each from another address (behind a trusted
 * proxy), only costs counter writes: those go through their own few connections, so the request
 * pool stays free for authentication and real work of every district.
 */
describe('API: a flood of unauthenticated requests cannot take the request pool', () => {
  let h: ApiHarness;
  let base: string;
  let district: { id: string };
  let key: string;

  before(async () => {
    h = await startApi({ API_TRUST_PROXY_HOPS: '1', API_RATE_LIMIT_PER_ADDRESS: '5' });
    district = await createDistrict(h);
    key = await issueKey(h, district.id);
    base = await listen(h);
  });
  after(async () => {
    await h.close();
  });

  it('answers another district while the counter pool is saturated, and never queues on the request pool', async () => {
    let sent = 0;
    let stop = false;
    const statuses = new Map<number, number>();
    let requestPoolWaiting = 0;
    let counterPoolWaiting = 0;
    const sampler = setInterval(() => {
      requestPoolWaiting = Math.max(requestPoolWaiting, h.pools.api.waitingCount);
      counterPoolWaiting = Math.max(counterPoolWaiting, h.pools.limits.waitingCount);
    }, 2);
    const flooder = async (): Promise<void> => {
      while (!stop && sent < TOTAL) {
        const n = sent++;
        const res = await fetch(`${base}/districts`, {
          headers: {
            Authorization: 'Bearer not-a-key',
            'X-Forwarded-For': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
          },
        }).catch(() => undefined);
        if (res) {
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          await res.arrayBuffer();
        }
      }
    };
    const flood = Promise.all(Array.from({ length: CONCURRENT }, flooder));
    try {
      // Wait until the flood is in full swing: the counter pool has requests waiting for it.
      const swing = Date.now() + 30_000;
      while (counterPoolWaiting === 0 && Date.now() < swing) await new Promise((r) => setTimeout(r, 20));
      assert.ok(counterPoolWaiting > 0, 'the flood never saturated the counter pool');

      const started = Date.now();
      const res = await fetch(`${base}/districts/${district.id}/runs`, {
        headers: { Authorization: `Bearer ${key}`, 'X-Forwarded-For': '192.0.2.10' },
      });
      const ms = Date.now() - started;
      // Its answer, or a quick refusal that says to try again: never a 10 s wait for a connection.
      assert.ok([200, 503].includes(res.status), `${res.status} ${await res.text()}`);
      assert.ok(ms < 5000, `another district's request took ${ms} ms`);
    } finally {
      stop = true;
      await flood;
      clearInterval(sampler);
    }
    assert.equal(requestPoolWaiting, 0, 'counter writes queued on the request pool');
    // The flood itself was refused, by authentication or as too busy, never let in.
    for (const status of statuses.keys())
      assert.ok([401, 503].includes(status), JSON.stringify([...statuses]));

    // Once it is over, the district's requests answer as usual.
    const after = await fetch(`${base}/districts/${district.id}/runs`, {
      headers: { Authorization: `Bearer ${key}`, 'X-Forwarded-For': '192.0.2.10' },
    });
    assert.equal(after.status, 200);
  });
});
