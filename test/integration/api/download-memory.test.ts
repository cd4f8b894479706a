import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import {
  API_TOKEN,
  type ApiHarness,
  addInvalidEmailRows,
  createDistrict,
  listen,
  startApi,
} from './api-harness';

const ROWS = 1_500_000;

/** Bytes of JS heap plus Buffers: what would grow if a download were assembled in memory. */
const used = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe('API: a large errors.csv streams with flat memory', () => {
  let h: ApiHarness;
  let url: string;

  before(async () => {
    h = await startApi();
    const d = await createDistrict(h);
    const run = await new SyncRunsRepository(h.db.pool).create({
      districtId: d.id,
      trigger: 'schedule',
      dryRun: false,
    });
    // A district file with a bad value on every row: the worst case for the errors report.
    await addInvalidEmailRows(h, run.id, ROWS);
    url = `${await listen(h)}/districts/${d.id}/runs/${run.id}/errors.csv`;
  });
  after(async () => {
    await h.close();
  });

  it(`serves ${ROWS.toLocaleString('en-US')} error rows without holding them in memory`, async () => {
    const baseline = used();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, used());
    }, 10);
    const started = Date.now();
    const { bytes, lines, status } = await new Promise<{ bytes: number; lines: number; status: number }>(
      (resolve, reject) => {
        http
          .get(url, { headers: { Authorization: `Bearer ${API_TOKEN}` } }, (res) => {
            let bytes = 0;
            let lines = 0;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
            });
            res.on('end', () => resolve({ bytes, lines, status: res.statusCode ?? 0 }));
            res.on('error', reject);
          })
          .on('error', reject);
      },
    );
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    const growthMb = (peak - baseline) / 2 ** 20;
    const sizeMb = bytes / 2 ** 20;
    console.log(
      `errors.csv: ${sizeMb.toFixed(0)} MB, ${lines - 1} rows in ${seconds.toFixed(1)} s ` +
        `(${(sizeMb / seconds).toFixed(0)} MB/s); heap+buffers grew ${growthMb.toFixed(1)} MB at peak`,
    );
    assert.equal(status, 200);
    assert.equal(lines, ROWS + 1, 'header plus one line per error');
    assert.ok(sizeMb > 150, `the report is big enough to show buffering (${sizeMb.toFixed(0)} MB)`);
    assert.ok(growthMb < 64, `memory grew ${growthMb.toFixed(1)} MB while streaming ${sizeMb.toFixed(0)} MB`);
  });
});
