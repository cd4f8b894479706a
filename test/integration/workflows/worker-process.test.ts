import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { startTestTemporal } from '../../support/temporal';
import { eventually, schedule, uuid } from './harness';

let env: TestWorkflowEnvironment;
let dir: string;

before(async () => {
  env = await startTestTemporal();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-worker-process-'));
});
after(async () => {
  await env?.teardown();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts test/integration/workflows/worker-process.ts as its own process and waits until it polls. */
async function startWorkerProcess(
  taskQueue: string,
  journalDir: string,
  planMs: number,
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, 'worker-process.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      JOURNAL_DIR: journalDir,
      PLAN_MS: String(planMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Bundling the workflows takes a new process several seconds, far more on a loaded machine; a
  // process that never comes up is killed, or it would keep this test file from ending.
  try {
    await eventually(
      'worker process polling',
      () => {
        if (child.exitCode !== null) throw new Error(`worker process exited: ${output}`);
        return output.includes('worker polling');
      },
      90_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { child, exited };
}

async function stopProcess(worker: WorkerProcess | undefined): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGKILL');
  await worker.exited;
}

/** The activity calls the worker processes made, oldest first. */
function journal(journalDir: string): { pid: number; event: string; runId: string }[] {
  const file = path.join(journalDir, 'journal');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { pid: number; event: string; runId: string });
}

const count = (journalDir: string, event: string) =>
  journal(journalDir).filter((e) => e.event === event).length;

function fixture() {
  const journalDir = fs.mkdtempSync(path.join(dir, 'journal-'));
  return { taskQueue: `tq-${uuid()}`, districtId: uuid(), runId: uuid(), journalDir };
}

describe('the worker as a separate process', () => {
  it('on SIGTERM mid-run lets the running activity finish, exits 0, and the next worker completes the run once', async () => {
    const { taskQueue, districtId, runId, journalDir } = fixture();
    let first: WorkerProcess | undefined;
    let second: WorkerProcess | undefined;
    try {
      first = await startWorkerProcess(taskQueue, journalDir, 2_000);
      const client = new DistrictSyncClient(env.client, taskQueue);
      await client.syncNow(districtId, { runId, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually('planning', () => count(journalDir, 'planChanges:start') === 1);
      first.child.kill('SIGTERM');
      assert.deepEqual(await first.exited, { code: 0, signal: null }, 'graceful shutdown exits 0');
      const firstPid = first.child.pid;
      assert.ok(
        journal(journalDir).some((e) => e.event === 'planChanges:done' && e.pid === firstPid),
        'the activity running at SIGTERM finished before the process exited',
      );

      second = await startWorkerProcess(taskQueue, journalDir, 0);
      const done = await eventually('run finished by the second worker', async () => {
        const s = await client.status(districtId);
        return s?.lastOutcome?.runId === runId ? s : undefined;
      });
      assert.equal(done.lastOutcome?.status, 'succeeded');
      assert.equal(count(journalDir, 'planChanges:start'), 1, 'the finished step is not redone');
      assert.equal(count(journalDir, 'applyChanges:applied'), 1);
      assert.equal(count(journalDir, 'finishRun:succeeded'), 1);
    } finally {
      await stopProcess(first);
      await stopProcess(second);
    }
  });

  it('killed with SIGKILL mid-run: a new worker process resumes at the interrupted step and applies exactly once', async () => {
    const { taskQueue, districtId, runId, journalDir } = fixture();
    let first: WorkerProcess | undefined;
    let second: WorkerProcess | undefined;
    try {
      first = await startWorkerProcess(taskQueue, journalDir, 10 * 60_000);
      const client = new DistrictSyncClient(env.client, taskQueue);
      await client.syncNow(districtId, { runId, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually('planning', () => count(journalDir, 'planChanges:start') === 1);
      first.child.kill('SIGKILL');
      assert.equal((await first.exited).signal, 'SIGKILL');

      second = await startWorkerProcess(taskQueue, journalDir, 0);
      // The server notices the dead worker when planChanges misses its heartbeat timeout, then retries it.
      const done = await eventually(
        'run finished by the second worker',
        async () => {
          const s = await client.status(districtId);
          return s?.lastOutcome?.runId === runId ? s : undefined;
        },
        90_000,
      );
      assert.equal(done.lastOutcome?.status, 'succeeded');
      const events = journal(journalDir);
      const secondPid = second.child.pid;
      assert.equal(count(journalDir, 'fetchFile'), 1, 'completed steps are not redone');
      assert.equal(count(journalDir, 'stageFile'), 1, 'completed steps are not redone');
      assert.deepEqual(
        events.filter((e) => e.event === 'planChanges:start').map((e) => e.pid),
        [first.child.pid, secondPid],
        'the interrupted step ran again on the new process',
      );
      assert.equal(count(journalDir, 'applyChanges:applied'), 1);
      assert.equal(count(journalDir, 'applyChanges:already-applied'), 0);
      assert.equal(count(journalDir, 'finishRun:succeeded'), 1);
      assert.equal(fs.readFileSync(path.join(journalDir, `applied-${runId}`), 'utf8'), String(secondPid));
    } finally {
      await stopProcess(first);
      await stopProcess(second);
    }
  });
});
