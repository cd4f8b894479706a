import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createWorker, type SyncWorker } from '../../../apps/worker/worker';
import { loadEnv } from '../../../lib/config/env';
import { districtWorkflowId, runWorkflowId } from '../../../lib/contracts/sync';
import { encryptSecret } from '../../../lib/crypto/secret-box';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { type HostileSftpServer, startHostileSftpServer } from '../../support/hostile-sftp-server';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { startTestTemporal } from '../../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The production worker on the Temporal dev server, fetching from a district's server that stops
 * answering reads: each attempt fails itself with SourceStalled (not a heartbeat timeout), frees
 * its connection, and Temporal schedules the next attempt, as support sees it in the UI.
 */
describe('a stalling district server under the real worker', () => {
  let db: TestDatabase;
  let temporal: TestWorkflowEnvironment;
  let worker: SyncWorker;
  let workerRun: Promise<void>;
  let server: HostileSftpServer;
  let dataDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-stall-'));
    [db, temporal, server] = await Promise.all([
      createTestDatabase(),
      startTestTemporal(),
      startHostileSftpServer({ mode: 'stall-mid-read' }),
    ]);
  });
  after(async () => {
    worker?.shutdown();
    await workerRun;
    await temporal?.teardown();
    await server?.stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails each fetch attempt with a retryable SourceStalled and retries, the connection closed each time', async () => {
    const secretKey = crypto.randomBytes(32).toString('hex');
    const env = loadEnv({
      DATABASE_URL: db.url,
      API_TOKEN: 'test-token-0123456789',
      SECRET_KEY: secretKey,
      DATA_DIR: dataDir,
      TEMPORAL_TASK_QUEUE: `stall-${crypto.randomUUID()}`,
      LOG_LEVEL: 'silent',
      EXTERNAL_SFTP_ALLOW_PRIVATE: 'true',
      FETCH_STALL_SECONDS: '2',
    });
    worker = await createWorker({ connection: temporal.nativeConnection, pool: db.pool, env });
    workerRun = worker.run();

    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO districts (name, slug, time_zone) VALUES ('Cedar Falls', 'cedar-falls', 'America/Chicago') RETURNING id`,
    );
    const districtId = rows[0].id;
    await db.pool.query(
      `INSERT INTO sync_configs (district_id, source, file_rule, file_name, external_host, external_port,
         external_username, external_password_enc, external_host_key, external_path)
       VALUES ($1, 'external', 'specific_name', 'users.csv', $2, $3, $4, $5, $6, '/exports')`,
      [
        districtId,
        server.host,
        server.port,
        server.username,
        encryptSecret(secretKey, server.password),
        server.hostKeyFingerprint,
      ],
    );
    const runs = new SyncRunsRepository(db.pool);
    const runId = (await runs.create({ districtId, trigger: 'sync_now', dryRun: false })).id;
    await new DistrictSyncClient(temporal.client, env.TEMPORAL_TASK_QUEUE).syncNow(
      districtId,
      { runId, dryRun: false, trigger: 'sync_now' },
      {
        timeZone: 'America/Chicago',
        enabled: false,
        frequency: 'daily',
        startDate: '2026-01-01',
        timeOfDay: '02:00',
        processOnArrival: false,
      },
    );

    // What support reads on the run workflow's pending fetch: the attempt and why the last one failed.
    const handle = temporal.client.workflow.getHandle(runWorkflowId(districtId, runId));
    const deadline = Date.now() + 60_000;
    let seen: { attempt: number; type?: string | null; message?: string | null } | undefined;
    while (Date.now() < deadline) {
      const pending = await handle
        .describe()
        .then((d) => d.raw.pendingActivities?.find((a) => a.activityType?.name === 'fetchFile'))
        .catch(() => undefined);
      if (pending?.lastFailure && (pending.attempt ?? 0) >= 3) {
        seen = {
          attempt: pending.attempt ?? 0,
          type: pending.lastFailure.applicationFailureInfo?.type,
          message: pending.lastFailure.message,
        };
        break;
      }
      await sleep(250);
    }
    assert.ok(seen, 'the fetch was retried');
    assert.equal(seen.type, 'SourceStalled');
    assert.match(
      seen.message ?? '',
      /stopped sending \/exports\/users\.csv: no data for 2(\.\d)? s .*FETCH_STALL_SECONDS/,
    );
    // Each attempt logged in once and hung up: only the current attempt may hold a connection.
    assert.ok(server.connectionCount() >= 2, `${server.connectionCount()} connections`);
    assert.ok(server.openConnections() <= 1, `${server.openConnections()} connections open at once`);
    assert.equal((await runs.get(runId))?.status, 'running', 'a retryable failure does not end the run');

    await handle.terminate('test finished');
    await temporal.client.workflow.getHandle(districtWorkflowId(districtId)).terminate('test finished');
  });
});
