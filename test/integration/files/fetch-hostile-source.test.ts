import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../../activities';
import type { FetchedFile } from '../../../lib/contracts/sync';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { testEnv } from '../../support/env';
import {
  type HostileMode,
  type HostileSftpServer,
  hostileSourceConfig,
  startHostileSftpServer,
} from '../../support/hostile-sftp-server';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { queuedRun, randomSlug, seedDistrictWithConfig } from '../../support/seed';

type Failure = Error & { type?: string; nonRetryable?: boolean };
/** The SDK logs every failed attempt; these failures are expected. */
const quietLogger = () => new DefaultLogger('ERROR', () => undefined);

/**
 * A district's own SFTP server that stops answering or trickles fails the real fetch activity
 * (createActivities, the worker's wiring) within the configured limits: the attempt ends, its
 * connection is closed and no partial copy stays behind. Limits are seconds here, not the defaults.
 */
describe("a district's misbehaving SFTP server", () => {
  let db: TestDatabase;
  let dataDir: string;
  const secretKey = crypto.randomBytes(32).toString('hex');
  const servers: HostileSftpServer[] = [];

  before(async () => {
    db = await createTestDatabase();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-hostile-'));
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const env = (overrides: Record<string, string> = {}) =>
    testEnv(
      { db, dataDir },
      {
        SECRET_KEY: secretKey,
        EXTERNAL_SFTP_ALLOW_PRIVATE: 'true', // the test servers listen on 127.0.0.1
        FETCH_OPERATION_TIMEOUT_SECONDS: '2',
        FETCH_STALL_SECONDS: '2',
        FETCH_MIN_BYTES_PER_SECOND: '4096',
        FETCH_THROUGHPUT_WINDOW_SECONDS: '3',
        ...overrides,
      },
    );
  const artifactsRoot = () => path.join(dataDir, 'artifacts');
  const fetchActivity = (envOverrides?: Record<string, string>) =>
    createActivities({ pool: db.pool, artifacts: new ArtifactStore(artifactsRoot()), env: env(envOverrides) })
      .fetchFile;

  async function runFor(server: HostileSftpServer): Promise<string> {
    const district = await seedDistrictWithConfig(db.pool, hostileSourceConfig(server, secretKey), {
      slug: randomSlug('hostile'),
    });
    return await queuedRun(db.pool, district.id);
  }

  async function hostile(
    mode: HostileMode,
    opts: { trickleIntervalMs?: number; trickleBytes?: number; content?: Buffer } = {},
  ) {
    const server = await startHostileSftpServer({ mode, ...opts });
    servers.push(server);
    return server;
  }

  /** Runs the fetch in an activity context, recording its heartbeats. */
  function inActivity(
    fetch: ReturnType<typeof fetchActivity>,
    runId: string,
    startToCloseTimeoutMs?: number,
  ) {
    const activity = new MockActivityEnvironment(
      startToCloseTimeoutMs ? { startToCloseTimeoutMs } : undefined,
      {
        logger: quietLogger(),
      },
    );
    const heartbeats: Array<{ stage: string; bytes: number }> = [];
    activity.on('heartbeat', (d: { stage: string; bytes: number }) => heartbeats.push(d));
    const started = Date.now();
    const settled = activity.run(fetch, { runId }).then(
      () => assert.fail('the fetch should have failed'),
      (err: Failure) => ({ err, ms: Date.now() - started }),
    );
    return { activity, heartbeats, settled };
  }

  /** The server saw the worker hang up, and the run kept no partial copy. */
  async function assertReleased(server: HostileSftpServer, runId: string): Promise<void> {
    await Promise.race([
      server.allDisconnected(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the connection stayed open')), 5_000)),
    ]);
    assert.equal(server.openConnections(), 0);
    const runDir = path.join(artifactsRoot(), 'runs', runId);
    assert.deepEqual(fs.existsSync(runDir) ? fs.readdirSync(runDir) : [], [], 'no partial copy');
    assert.equal((await new SyncRunsRepository(db.pool).get(runId))?.file_ref, null);
    // Nor does the room it reserved still count against the district's storage limit.
    const { rows } = await db.pool.query<{ reserved: number }>(
      `SELECT COALESCE(sum(a.size), 0)::float8 AS reserved FROM district_artifacts a
       JOIN sync_runs r ON r.district_id = a.district_id WHERE r.id = $1`,
      [runId],
    );
    assert.equal(rows[0].reserved, 0, 'the reservation was released');
  }

  const assertRetryableStall = (err: Failure) => {
    assert.equal(err.type, 'SourceStalled', err.message);
    assert.equal(err.nonRetryable, false);
  };

  /**
   * A fetch from a server misbehaving as `mode`, in an activity context, that fails as a retryable
   * SourceStalled: the failure, after how long, and the heartbeats sent meanwhile.
   */
  async function stalledFetch(
    mode: HostileMode,
    serverOpts: Parameters<typeof hostile>[1] = {},
    attempt: { settings?: Record<string, string>; startToCloseTimeoutMs?: number } = {},
  ) {
    const server = await hostile(mode, serverOpts);
    const runId = await runFor(server);
    const { settled, heartbeats } = inActivity(
      fetchActivity(attempt.settings),
      runId,
      attempt.startToCloseTimeoutMs,
    );
    const { err, ms } = await settled;
    assertRetryableStall(err);
    return { server, runId, heartbeats, err, ms };
  }

  it('fails a server that logs in and then never opens the SFTP session, within the operation timeout', async () => {
    const { server, runId, err, ms } = await stalledFetch('stall-after-auth');
    assert.match(
      err.message,
      new RegExp(
        `SFTP server at 127\\.0\\.0\\.1:${server.port}: no answer to the request to open an SFTP session within 2 s \\(FETCH_OPERATION_TIMEOUT_SECONDS\\)`,
      ),
    );
    assert.ok(ms >= 1_500 && ms < 10_000, `failed after ${ms} ms`);
    await assertReleased(server, runId);
  });

  it('fails a server that lists the file and then never answers a read, within the stall timeout', async () => {
    const { server, runId, heartbeats, err, ms } = await stalledFetch('stall-mid-read');
    assert.match(
      err.message,
      /stopped sending \/exports\/users\.csv: no data for 2(\.\d)? s after 0 of \d+ bytes \(FETCH_STALL_SECONDS\)/,
    );
    assert.ok(ms >= 1_500 && ms < 10_000, `failed after ${ms} ms`);
    // No byte arrived, so no heartbeat ever claimed progress.
    assert.ok(
      heartbeats.every((h) => h.bytes === 0),
      JSON.stringify(heartbeats),
    );
    await assertReleased(server, runId);
  });

  it('fails a server that trickles a few bytes a second, within the throughput window, heartbeating the bytes so far', async () => {
    const { server, runId, heartbeats, err, ms } = await stalledFetch('trickle', { trickleIntervalMs: 250 });
    assert.match(
      err.message,
      /sent \/exports\/users\.csv at \d+ bytes\/s over the last 3 s, under the minimum of 4096 bytes\/s \(FETCH_MIN_BYTES_PER_SECOND over FETCH_THROUGHPUT_WINDOW_SECONDS\)/,
    );
    assert.ok(ms >= 2_500 && ms < 12_000, `failed after ${ms} ms`);
    const bytes = heartbeats.map((h) => h.bytes);
    assert.ok(
      bytes.some((b) => b > 0),
      JSON.stringify(heartbeats),
    );
    assert.deepEqual(
      bytes,
      [...bytes].sort((a, b) => a - b),
      'bytes so far never go down',
    );
    await assertReleased(server, runId);
  });

  it('fails an attempt as soon as the server sends above the minimum rate but too slowly to finish before the attempt is cut off', async () => {
    // About 80 KB/s (two reads in flight, 4 KiB each every 100 ms): 2 MiB needs some 26 s, the attempt has 20 s.
    const { server, runId, err, ms } = await stalledFetch(
      'trickle',
      { trickleIntervalMs: 100, trickleBytes: 4096, content: Buffer.alloc(2 * 1024 * 1024, 'a') },
      { settings: { SFTP_DOWNLOAD_CONCURRENCY: '2' }, startToCloseTimeoutMs: 20_000 },
    );
    assert.match(
      err.message,
      /sends \/exports\/users\.csv at \d+ bytes\/s: the rest would take about \d+ s, past the 20 s a fetch attempt may take/,
    );
    assert.ok(ms >= 2_500 && ms < 12_000, `failed after ${ms} ms, not at the attempt's limit`);
    await assertReleased(server, runId);
  });

  it('stops a cancelled fetch within seconds, closing the connection and removing the partial copy', async () => {
    // Default limits: the trickle alone would hold the attempt for a minute.
    const server = await hostile('trickle', { trickleIntervalMs: 100 });
    const runId = await runFor(server);
    const fetch = fetchActivity({
      FETCH_OPERATION_TIMEOUT_SECONDS: '20',
      FETCH_STALL_SECONDS: '20',
      FETCH_THROUGHPUT_WINDOW_SECONDS: '60',
    });
    const { activity, heartbeats, settled } = inActivity(fetch, runId);
    const deadline = Date.now() + 10_000;
    while (!heartbeats.some((h) => h.bytes > 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      heartbeats.some((h) => h.bytes > 0),
      'the download started',
    );
    const cancelledAt = Date.now();
    activity.cancel('CANCELLED');
    const { err } = await settled;
    assert.ok(err instanceof CancelledFailure, `${err.name}: ${err.message}`);
    assert.ok(Date.now() - cancelledAt < 3_000, `stopped ${Date.now() - cancelledAt} ms after the cancel`);
    await assertReleased(server, runId);
  });

  it('downloads from a well-behaved server with the same limits', async () => {
    const server = await hostile('normal');
    const runId = await runFor(server);
    const fetched = (await new MockActivityEnvironment(undefined, { logger: quietLogger() }).run(
      fetchActivity(),
      { runId },
    )) as FetchedFile;
    assert.equal(fetched.name, 'users.csv');
    assert.ok(fetched.size > 60_000);
    await server.allDisconnected();
  });
});
