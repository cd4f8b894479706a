import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { districtWorkflowId, runWorkflowId } from '../../../lib/contracts/sync';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import {
  type HostileSftpServer,
  hostileSourceConfig,
  startHostileSftpServer,
} from '../../support/hostile-sftp-server';
import type { TestDatabase } from '../../support/postgres';
import { seedDistrictWithConfig } from '../../support/seed';
import { startWorkerStack, type WorkerStack } from '../../support/worker-stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The production worker on the Temporal dev server, fetching from a district's server that stops
 * answering reads: each attempt fails itself with SourceStalled (not a heartbeat timeout), frees
 * its connection, and Temporal schedules the next attempt, as support sees it in the UI.
 */
describe('a stalling district server under the real worker', () => {
  let stack: WorkerStack;
  let db: TestDatabase;
  let temporal: TestWorkflowEnvironment;
  let server: HostileSftpServer;

  before(async () => {
    [stack, server] = await Promise.all([
      startWorkerStack({
        name: 'stall',
        settings: { EXTERNAL_SFTP_ALLOW_PRIVATE: 'true', FETCH_STALL_SECONDS: '2' },
      }),
      startHostileSftpServer({ mode: 'stall-mid-read' }),
    ]);
    ({ db, temporal } = stack);
  });
  after(async () => {
    await stack?.close();
    await server?.stop();
  });

  it('fails each fetch attempt with a retryable SourceStalled and retries, the connection closed each time', async () => {
    const { env } = stack;
    await stack.startWorker();

    const { id: districtId } = await seedDistrictWithConfig(
      db.pool,
      hostileSourceConfig(server, env.SECRET_KEY),
      { slug: 'cedar-falls', name: 'Cedar Falls' },
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
