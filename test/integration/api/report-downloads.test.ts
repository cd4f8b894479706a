import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import {
  API_TOKEN,
  type ApiHarness,
  addInvalidEmailRows,
  createDistrict,
  issueKey,
  listen,
  startApi,
} from './api-harness';

/** Big enough that a stalled reader fills every buffer between Postgres and the client (~40 MB). */
const ERROR_ROWS = 300_000;
const SEND_TIMEOUT_SECONDS = 4;
const PER_CREDENTIAL = 2;
const DEADLINE_SECONDS = 15;
const STALLED_READERS = 10;

interface Stalled {
  status: number;
  retryAfter?: string;
  body: string;
  /** Resolves when the response is over: `complete` is false when the server cut it. */
  done: Promise<{ complete: boolean; bytes: number }>;
  resume(): void;
  /** Reads about `bytes` more, then stops reading again. */
  readSome(bytes: number): void;
}

/** A real HTTP client that reads the first chunk of a download and then stops reading. */
function stallingGet(url: string, token: string): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            body,
            done: Promise.resolve({ complete: true, bytes: body.length }),
            resume: () => undefined,
            readSome: () => undefined,
          }),
        );
        return;
      }
      let bytes = 0;
      const done = new Promise<{ complete: boolean; bytes: number }>((settle) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => settle({ complete: res.complete, bytes }));
        res.on('close', () => settle({ complete: res.complete, bytes }));
        res.on('error', () => settle({ complete: false, bytes }));
      });
      const readSome = (n: number): void => {
        const until = bytes + n;
        const check = (): void => {
          if (bytes < until) return;
          res.off('data', check);
          res.pause();
        };
        res.on('data', check);
        res.resume();
      };
      res.once('data', () => {
        res.pause();
        resolve({ status: 200, body: '', done, resume: () => res.resume(), readSome });
      });
    });
    req.on('error', reject);
  });
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

describe('API: report downloads cannot starve the API', () => {
  let h: ApiHarness;
  let base: string;
  let bigReport: string;
  let smallReport: string;
  let keyA: string;
  let keyB: string;
  let keyA2: string;
  let districtB: string;

  /** Connections of the export pool lent out right now (a download in progress holds one). */
  const exportsInUse = (): number => h.pools.exports.totalCount - h.pools.exports.idleCount;

  before(async () => {
    h = await startApi({
      API_EXPORT_SEND_TIMEOUT_SECONDS: String(SEND_TIMEOUT_SECONDS),
      API_EXPORTS_PER_DISTRICT: String(PER_CREDENTIAL),
      API_EXPORT_DEADLINE_SECONDS: String(DEADLINE_SECONDS),
    });
    const a = await createDistrict(h);
    const b = await createDistrict(h);
    districtB = b.id;
    keyA = await issueKey(h, a.id);
    keyB = await issueKey(h, b.id);
    keyA2 = await issueKey(h, a.id);
    const runs = new SyncRunsRepository(h.db.pool);
    const runA = await runs.create({ districtId: a.id, trigger: 'schedule', dryRun: false });
    const runB = await runs.create({ districtId: b.id, trigger: 'schedule', dryRun: false });
    // A file with a bad value on every row: the biggest errors report a district can make.
    await addInvalidEmailRows(h, runA.id, ERROR_ROWS);
    await h.db.pool.query(
      `INSERT INTO run_errors (run_id, row_number, column_name, value, code, severity, message)
       VALUES ($1, 2, 'Email', 'x', 'INVALID_EMAIL', 'error', 'Email is not a valid address')`,
      [runB.id],
    );
    base = await listen(h);
    bigReport = `${base}/districts/${a.id}/runs/${runA.id}/errors.csv`;
    smallReport = `${base}/districts/${b.id}/runs/${runB.id}/errors.csv`;
  });
  after(async () => {
    await h.close();
  });

  it('ten stalled readers with one key leave every other request answering, then are cut', async () => {
    const readers = await Promise.all(
      Array.from({ length: STALLED_READERS }, () => stallingGet(bigReport, keyA)),
    );
    const stalledSince = Date.now();
    const streaming = readers.filter((r) => r.status === 200);
    const refused = readers.filter((r) => r.status === 429);
    assert.equal(streaming.length, PER_CREDENTIAL, 'downloads admitted for one key');
    assert.equal(refused.length, STALLED_READERS - PER_CREDENTIAL);
    for (const r of refused) {
      assert.ok(Number(r.retryAfter) > 0, `Retry-After: ${r.retryAfter}`);
      const body = JSON.parse(r.body) as { statusCode: number; error: string; message: string };
      assert.equal(body.statusCode, 429);
      assert.equal(body.error, 'Too Many Requests');
      assert.match(body.message, /already has 2 report downloads in progress.*try again in 10 seconds/);
    }
    assert.equal(exportsInUse(), PER_CREDENTIAL);

    // Another district, and authentication itself, answer at once while the readers are stalled.
    const bRuns = await timed(() =>
      fetch(`${base}/districts/${districtB}/runs`, { headers: { Authorization: `Bearer ${keyB}` } }),
    );
    assert.equal(bRuns.value.status, 200);
    assert.ok(bRuns.ms < 2000, `another district's request took ${bRuns.ms} ms`);
    const operator = await timed(() =>
      fetch(`${base}/districts`, { headers: { Authorization: `Bearer ${API_TOKEN}` } }),
    );
    assert.equal(operator.value.status, 200);
    assert.ok(operator.ms < 2000, `the operator's request took ${operator.ms} ms`);
    const wrongKey = await timed(() =>
      fetch(`${base}/districts`, { headers: { Authorization: `Bearer rsk_${'x'.repeat(43)}` } }),
    );
    assert.equal(wrongKey.value.status, 401);
    assert.ok(wrongKey.ms < 2000, `authentication took ${wrongKey.ms} ms`);
    // Another district downloads its own report in full.
    const small = await timed(() => fetch(smallReport, { headers: { Authorization: `Bearer ${keyB}` } }));
    assert.equal(small.value.status, 200);
    assert.match(await small.value.text(), /^row,column,value,code,message\n2,Email,x,INVALID_EMAIL,/);
    assert.ok(small.ms < 2000, `another district's download took ${small.ms} ms`);

    // The stalled downloads are cut once they have read nothing for the send timeout, and their
    // connections go back to the pool.
    const deadline = Date.now() + (SEND_TIMEOUT_SECONDS + 30) * 1000;
    while (exportsInUse() > 0) {
      if (Date.now() > deadline) assert.fail(`${exportsInUse()} export connections still lent out`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const freedAfter = Date.now() - stalledSince;
    assert.ok(freedAfter >= (SEND_TIMEOUT_SECONDS - 1) * 1000, `freed after ${freedAfter} ms`);
    for (const r of streaming) r.resume();
    const ends = await Promise.all(streaming.map((r) => r.done));
    for (const end of ends)
      assert.equal(end.complete, false, `a cut download looks complete (${end.bytes} B)`);
    const { rows } = await h.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = 'rostersync-api-exports' AND query ILIKE 'COPY%' AND state = 'active'`,
    );
    assert.equal(rows[0].n, 0, 'a cut download left its COPY running');

    // The key can download again, in full.
    const again = await fetch(bigReport, { headers: { Authorization: `Bearer ${keyA}` } });
    assert.equal(again.status, 200);
    const text = await again.text();
    assert.equal(text.split('\n').length - 2, ERROR_ROWS);
  });

  /** Waits until no export connection is lent out (every download cut or done). */
  async function exportsFreed(withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (exportsInUse() > 0) {
      if (Date.now() > deadline) assert.fail(`${exportsInUse()} export connections still lent out`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('caps downloads per district whatever keys it uses, and leaves room for the operator and others', async () => {
    assert.equal(h.env.API_EXPORT_CONNECTIONS, 5, 'the default export pool is above twice the cap');
    const readers = await Promise.all([
      ...Array.from({ length: 3 }, () => stallingGet(bigReport, keyA)),
      ...Array.from({ length: 3 }, () => stallingGet(bigReport, keyA2)),
    ]);
    const streaming = readers.filter((r) => r.status === 200);
    assert.equal(streaming.length, PER_CREDENTIAL, 'downloads admitted for one district with two keys');
    for (const r of readers.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 429);
      assert.match(r.body, /This district already has 2 report downloads in progress/);
    }
    // The operator's downloads of that district's report are capped on their own.
    const operator = await Promise.all(Array.from({ length: 3 }, () => stallingGet(bigReport, API_TOKEN)));
    assert.deepEqual(operator.map((r) => r.status).sort(), [200, 200, 429]);
    assert.equal(exportsInUse(), 2 * PER_CREDENTIAL);
    // Another district still downloads its report in full.
    const small = await timed(() => fetch(smallReport, { headers: { Authorization: `Bearer ${keyB}` } }));
    assert.equal(small.value.status, 200);
    assert.match(await small.value.text(), /^row,column,value,code,message\n2,Email,x,INVALID_EMAIL,/);
    assert.ok(small.ms < 2000, `another district's download took ${small.ms} ms`);
    for (const r of [...streaming, ...operator]) r.resume();
    await Promise.all([...streaming, ...operator].map((r) => r.done));
    await exportsFreed(60_000);
  });

  it('cuts a download still trickling at its deadline, though it never stalls long enough to time out', async () => {
    const started = Date.now();
    const reader = await stallingGet(bigReport, keyA);
    assert.equal(reader.status, 200);
    // 128 KB every half second: the send timeout never fires, and the ~40 MB report outlasts the
    // deadline even when the kernel's socket buffers grow to tens of MB (loopback autotuning).
    const trickle = setInterval(() => reader.readSome(128 * 1024), 500);
    try {
      // The server's side: the download's connection goes back once the deadline cuts it.
      await exportsFreed((DEADLINE_SECONDS + 20) * 1000);
    } finally {
      clearInterval(trickle);
    }
    const lasted = Date.now() - started;
    assert.ok(lasted >= (DEADLINE_SECONDS - 1) * 1000, `cut after ${lasted} ms`);
    // The client's side, once it reads what was already in flight: a cut transfer, not a short file.
    reader.resume();
    const end = await reader.done;
    assert.equal(end.complete, false, `a cut download looks complete (${end.bytes} B)`);
    // Its slot is free again: the district downloads in full.
    const again = await fetch(smallReport, { headers: { Authorization: `Bearer ${keyB}` } });
    assert.equal(again.status, 200);
  });

  it('answers 503 within seconds, instead of hanging, when every request connection is taken', async () => {
    // Whatever holds them (here the test itself), a request waits at most the pool's connect
    // timeout (10 s) and says what to do.
    const held = await Promise.all(Array.from({ length: 10 }, () => h.pools.api.connect()));
    try {
      const res = await timed(() =>
        fetch(`${base}/districts/${districtB}/runs`, { headers: { Authorization: `Bearer ${keyB}` } }),
      );
      assert.equal(res.value.status, 503);
      const body = (await res.value.json()) as { message: string };
      assert.match(
        body.message,
        /^The database is busy and did not answer in time: nothing was changed, try again/,
      );
      assert.ok(res.ms >= 9000 && res.ms < 20_000, `answered after ${res.ms} ms`);
    } finally {
      for (const client of held) client.release();
    }
    const after = await fetch(`${base}/districts/${districtB}/runs`, {
      headers: { Authorization: `Bearer ${keyB}` },
    });
    assert.equal(after.status, 200);
  });
});
