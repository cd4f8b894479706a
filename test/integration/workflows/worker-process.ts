import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { SyncActivities } from '../../../activities/types';
import { createWorker } from '../../../apps/worker/worker';
import { applied, planned, stagedRows } from '../../support/activity-results';

/**
 * A worker PROCESS for the kill and SIGTERM tests: the production worker (createWorker, the SDK's
 * SIGTERM handling as in apps/worker/main.ts) around activities that keep their effects in files, so
 * what happened survives the process. JOURNAL_DIR holds one line per activity call; applyChanges
 * is guarded on runId like the real one (an exclusive-create marker file), so a repeated apply shows.
 * PLAN_MS: how long planChanges works, heartbeating (long enough to kill or stop the process mid-run).
 */
const dir = required('JOURNAL_DIR');
const planMs = Number(process.env.PLAN_MS ?? '0');

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

function note(event: string, runId: string): void {
  fs.appendFileSync(path.join(dir, 'journal'), `${JSON.stringify({ pid: process.pid, event, runId })}\n`);
}

const activities: SyncActivities = {
  createRun: async () => {
    throw new Error('scheduled runs are not part of this test');
  },
  startRun: async ({ runId }) => {
    note('startRun', runId);
    return {
      safeguards: { errorThresholdPct: -1, maxArchivePct: -1, maxArchiveCount: -1, maxRowDropPct: -1 },
    };
  },
  fetchFile: async ({ runId }) => {
    note('fetchFile', runId);
    return { fileRef: `runs/${runId}/original.csv`, name: 'roster.csv', size: 1, sha256: 'x' };
  },
  stageFile: async ({ runId }) => {
    note('stageFile', runId);
    return stagedRows(1);
  },
  planChanges: async ({ runId }) => {
    note('planChanges:start', runId);
    const ctx = Context.current();
    const until = Date.now() + planMs;
    while (Date.now() < until) {
      ctx.heartbeat();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    note('planChanges:done', runId);
    return planned({ create: 1 });
  },
  applyChanges: async ({ runId }) => {
    try {
      fs.writeFileSync(path.join(dir, `applied-${runId}`), String(process.pid), { flag: 'wx' });
      note('applyChanges:applied', runId);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      note('applyChanges:already-applied', runId);
    }
    return applied({ created: 1 });
  },
  sendWelcomeEmails: async ({ runId }) => {
    note('sendWelcomeEmails', runId);
    return { sent: 0 };
  },
  notifyAdmins: async ({ runId }) => {
    note('notifyAdmins', runId);
    return { sent: 0 };
  },
  openRuns: async () => ({ running: [], queued: [], held: null }),
  abandonRun: async ({ runId }) => {
    note('abandonRun', runId);
    return { status: 'failed' };
  },
  finishRun: async ({ runId, status }) => {
    note(`finishRun:${status}`, runId);
  },
};

async function run(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const connection = await NativeConnection.connect({ address: required('TEMPORAL_ADDRESS') });
  try {
    const worker = await createWorker({
      connection,
      env: {
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_TASK_QUEUE: required('TEMPORAL_TASK_QUEUE'),
        WORKER_MAX_ACTIVITIES: 4,
        WORKER_MAX_WORKFLOW_TASKS: 10,
        WORKER_MAX_CACHED_WORKFLOWS: 100,
      },
      activities,
    });
    console.log('worker polling');
    await worker.run();
    console.log('worker stopped');
  } finally {
    await connection.close();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
