import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceWatch, throughputVerdict } from '../../../lib/files/source-watch';

const limits = { stallMs: 20_000, minBytesPerSecond: 1000, windowMs: 60_000 };
/** One sample a second for `seconds`, at `rate` bytes a second. */
const steady = (seconds: number, rate: number) =>
  Array.from({ length: seconds + 1 }, (_, i) => ({ atMs: i * 1000, bytes: i * rate }));

describe("when a district server's download counts as stalled or too slow", () => {
  it('lets a download at or above the minimum run on, however long', () => {
    assert.equal(throughputVerdict(steady(600, 1000).slice(-62), 600_000, limits), undefined);
  });

  it('judges the throughput only once a whole window has passed', () => {
    assert.equal(throughputVerdict(steady(59, 1), 59_000, limits), undefined);
    assert.deepEqual(throughputVerdict(steady(60, 1), 60_000, limits), { kind: 'slow', bytesPerSecond: 1 });
  });

  it('counts only the last window: a fast start does not excuse a crawl since', () => {
    const fast = steady(30, 100_000);
    const crawl = Array.from({ length: 61 }, (_, i) => ({
      atMs: 31_000 + i * 1000,
      bytes: 3_000_000 + i * 10,
    }));
    const samples = [...fast, ...crawl].filter((s) => s.atMs >= 91_000 - 61_000);
    assert.equal(throughputVerdict(samples, 91_000, limits)?.kind, 'slow');
  });

  it('calls no byte for the stall timeout a stall, before the window is full', () => {
    const samples = [
      { atMs: 0, bytes: 0 },
      { atMs: 1000, bytes: 5000 },
      ...Array.from({ length: 20 }, (_, i) => ({ atMs: 2000 + i * 1000, bytes: 5000 })),
    ];
    assert.equal(throughputVerdict(samples.slice(0, 20), 20_000, limits), undefined);
    assert.deepEqual(throughputVerdict(samples, 21_000, limits), { kind: 'stalled', idleMs: 20_000 });
  });

  it('counts a download that never got its first byte as stalled from its start', () => {
    const samples = Array.from({ length: 21 }, (_, i) => ({ atMs: i * 1000, bytes: 0 }));
    assert.deepEqual(throughputVerdict(samples, 20_000, limits), { kind: 'stalled', idleMs: 20_000 });
  });

  it("fails a download that, at its recent rate, would end past the attempt's deadline, and passes one that ends in time", () => {
    const gigabytes2 = 2 * 1024 ** 3;
    const thirtyMinutes = { size: gigabytes2, deadlineMs: 30 * 60_000 };
    const floor = { ...limits, minBytesPerSecond: 32 * 1024 };
    // 5 MB/s: 2 GiB in about 7 minutes.
    for (const at of [60, 200, 400])
      assert.equal(
        throughputVerdict(steady(at, 5_000_000).slice(-62), at * 1000, floor, thirtyMinutes),
        undefined,
      );
    // 40 KB/s is above the floor, but 2 GiB would take some 15 hours.
    const late = throughputVerdict(steady(60, 40_000), 60_000, floor, thirtyMinutes);
    assert.equal(late?.kind, 'late');
    assert.ok(late?.kind === 'late' && late.projectedMs > 14 * 3600_000, JSON.stringify(late));
  });

  it('gives many requests, each answered in time, one budget in all', async () => {
    const watch = new SourceWatch({ ...limits, operationMs: 1_000 }, 'sftp.example.org:22');
    const slowAnswer = () =>
      watch.request('the request to list folder /', (resolve) => setTimeout(resolve, 100));
    await assert.rejects(
      watch.within('listing the folders', 300, '6 x FETCH_OPERATION_TIMEOUT_SECONDS', async () => {
        for (let i = 0; i < 10; i++) await slowAnswer();
      }),
      (err: Error & { type?: string }) => {
        assert.equal(err.type, 'SourceStalled');
        assert.match(
          err.message,
          /listing the folders took longer than 0\.3 s in all \(6 x FETCH_OPERATION_TIMEOUT_SECONDS\)/,
        );
        return true;
      },
    );
    watch.dispose();
  });
});
