import crypto from 'node:crypto';
import { Context } from '@temporalio/activity';
import { type Client, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SyncActivities } from '../../../activities/types';
import { createWorker, parseWorkerSettings } from '../../../apps/worker/worker';
import type { DistrictStatus, DistrictSyncInput } from '../../../lib/contracts/schedule';
import { districtWorkflowId, QUERIES } from '../../../lib/contracts/sync';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { applied, planned, stagedRows } from '../../support/activity-results';

export interface RunRecord {
  runId: string;
  trigger?: string;
  dryRun?: boolean;
  statuses: string[];
  failureType?: string;
  failureMessage?: string;
}

/**
 * In-memory activities that record what the workflows asked for, so orchestration (coalescing,
 * retries, catch-up, continue-as-new) is checked against the real Temporal server without a sync
 * engine. `behaviour` overrides single activities per test.
 */
export class ActivityRecorder {
  readonly calls: { name: keyof SyncActivities; runId: string; at: number }[] = [];
  readonly runs = new Map<string, RunRecord>();
  behaviour: Partial<SyncActivities> = {};

  count(name: keyof SyncActivities, runId?: string): number {
    return this.calls.filter((c) => c.name === name && (runId === undefined || c.runId === runId)).length;
  }

  run(runId: string): RunRecord {
    let record = this.runs.get(runId);
    if (!record) {
      record = { runId, statuses: [] };
      this.runs.set(runId, record);
    }
    return record;
  }

  /** Runs started (startRun), in order. */
  started(): string[] {
    return this.calls.filter((c) => c.name === 'startRun').map((c) => c.runId);
  }

  activities(): SyncActivities {
    const note = (name: keyof SyncActivities, runId: string) =>
      this.calls.push({ name, runId, at: Date.now() });
    const b = () => this.behaviour;
    return {
      createRun: async (input) => {
        const runId = input.runId ?? crypto.randomUUID();
        note('createRun', runId);
        Object.assign(this.run(runId), { trigger: input.trigger, dryRun: input.dryRun });
        return (await b().createRun?.(input)) ?? { runId };
      },
      startRun: async (input) => {
        note('startRun', input.runId);
        this.run(input.runId).statuses.push('running');
        return (
          (await b().startRun?.(input)) ?? {
            safeguards: { errorThresholdPct: -1, maxArchivePct: 50, maxArchiveCount: 500, maxRowDropPct: -1 },
          }
        );
      },
      fetchFile: async (input) => {
        note('fetchFile', input.runId);
        return (
          (await b().fetchFile?.(input)) ?? {
            fileRef: `runs/${input.runId}/original.csv`,
            name: 'roster.csv',
            size: 10,
            sha256: 'x',
          }
        );
      },
      stageFile: async (input) => {
        note('stageFile', input.runId);
        return (await b().stageFile?.(input)) ?? stagedRows(10);
      },
      planChanges: async (input) => {
        note('planChanges', input.runId);
        return (await b().planChanges?.(input)) ?? planned({ create: 10 });
      },
      applyChanges: async (input) => {
        note('applyChanges', input.runId);
        return (await b().applyChanges?.(input)) ?? applied({ created: 10 });
      },
      sendWelcomeEmails: async (input) => {
        note('sendWelcomeEmails', input.runId);
        return (await b().sendWelcomeEmails?.(input)) ?? { sent: 0 };
      },
      notifyAdmins: async (input) => {
        note('notifyAdmins', input.runId);
        return (await b().notifyAdmins?.(input)) ?? { sent: 1 };
      },
      openRuns: async (input) => {
        note('openRuns', input.districtId);
        return (await b().openRuns?.(input)) ?? { running: [], queued: [], held: null };
      },
      abandonRun: async (input) => {
        note('abandonRun', input.runId);
        const record = this.run(input.runId);
        record.statuses.push('failed');
        record.failureType = input.failureType;
        record.failureMessage = input.failureMessage;
        return (await b().abandonRun?.(input)) ?? { status: 'failed' };
      },
      finishRun: async (input) => {
        note('finishRun', input.runId);
        const record = this.run(input.runId);
        record.statuses.push(input.status);
        record.failureType = input.failureType;
        record.failureMessage = input.failureMessage;
        await b().finishRun?.(input);
      },
    };
  }
}

/** A gate an activity waits on until the test opens it; it heartbeats so cancellation reaches it. */
export class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  entered = false;
  release(): void {
    this.open();
  }
  async pass(): Promise<void> {
    this.entered = true;
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 200);
    try {
      await Promise.race([this.opened, ctx.cancelled]);
    } finally {
      clearInterval(beat);
    }
  }
}

/**
 * Starts the production worker setup (createWorker: the schedules queue and its runs queue, the
 * default concurrency) with the recorder's activities, on the test's own task queue.
 */
export async function startWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  recorder: ActivityRecorder,
): Promise<{ running: Promise<void>; stop: () => Promise<void> }> {
  const worker = await createWorker(
    {
      connection: env.nativeConnection,
      activities: recorder.activities(),
      env: parseWorkerSettings({ TEMPORAL_TASK_QUEUE: taskQueue }),
    },
    // Tests stop a worker mid-run on purpose: no grace, in-flight activities are cancelled at once.
    { shutdownGraceTime: 0, stickyQueueScheduleToStartTimeout: '1 second' },
  );
  const running = worker.run();
  return {
    running,
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

/**
 * Runs `body` while a worker (startWorker) serves the task queue with the recorder's activities,
 * handing it a client for the districts on that queue; the worker stops after, whatever happens.
 */
export async function withWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  recorder: ActivityRecorder,
  body: (client: DistrictSyncClient) => Promise<void>,
): Promise<void> {
  const worker = await startWorker(env, taskQueue, recorder);
  try {
    await body(new DistrictSyncClient(env.client, taskQueue));
  } finally {
    await worker.stop();
  }
}

/** fetchFile that waits at `gate` for the runs `blocked` names, so a test controls when they go on. */
export function gatedFetch(gate: Gate, blocked: (runId: string) => boolean): SyncActivities['fetchFile'] {
  return async ({ runId }) => {
    if (blocked(runId)) await gate.pass();
    return { fileRef: 'f', name: 'roster.csv', size: 1, sha256: 'x' };
  };
}

export { dueState, schedule } from '../../support/district-schedule';

export async function startDistrict(
  client: Client,
  taskQueue: string,
  input: DistrictSyncInput,
): Promise<WorkflowHandle> {
  return await client.workflow.start('districtSyncWorkflow', {
    workflowId: districtWorkflowId(input.districtId),
    taskQueue,
    args: [input],
  });
}

export async function status(handle: WorkflowHandle): Promise<DistrictStatus> {
  return await handle.query<DistrictStatus>(QUERIES.status);
}

/** Polls until `check` holds (or throws with `what` after the timeout). */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for: ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves once the workflow exists: a parent or a signal starts it a moment after the test asks. */
export async function workflowStarted(handle: WorkflowHandle): Promise<void> {
  await eventually('workflow started', async () => {
    try {
      return Boolean(await handle.describe());
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  });
}

export const uuid = (): string => crypto.randomUUID();
