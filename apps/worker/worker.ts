import path from 'node:path';
import {
  bundleWorkflowCode,
  type NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from '../../activities';
import type { SyncActivities } from '../../activities/types';
import type { z } from 'zod';
import { Env } from '../../lib/config/env';
import { runTaskQueue } from '../../lib/contracts/sync';
import { ArtifactStore } from '../../lib/storage/artifact-store';

/** Compiled workflow entry (the worker bundles it); resolved next to this file inside dist/. */
export const WORKFLOWS_PATH = require.resolve('../../workflows');

/**
 * zod and luxon keep no per-workflow state, so the worker evaluates them once and shares them
 * (workflows/shared-modules.ts) instead of once per workflow: each workflow costs less CPU and
 * memory, which is what lets thousands of districts share one worker. The preload names our own
 * module, which uses both: naming the packages themselves does nothing, because they declare
 * `sideEffects: false` and webpack drops a bare `require` of them.
 */
export const WORKFLOW_BUNDLER_OPTIONS: NonNullable<WorkerOptions['bundlerOptions']> = {
  preloadModules: [require.resolve('../../workflows/shared-modules')],
};

/** What the worker itself is configured by: where it polls and how much it runs at once. */
const WorkerSettingsSchema = Env.pick({
  TEMPORAL_NAMESPACE: true,
  TEMPORAL_TASK_QUEUE: true,
  WORKER_MAX_ACTIVITIES: true,
  WORKER_MAX_WORKFLOW_TASKS: true,
  WORKER_MAX_CACHED_WORKFLOWS: true,
});
export type WorkerSettings = z.infer<typeof WorkerSettingsSchema>;

/** Those settings alone, with their defaults: for a worker set up without the whole environment. */
export const parseWorkerSettings = (values: Record<string, string | undefined>): WorkerSettings =>
  WorkerSettingsSchema.parse(values);

export type WorkerDeps = { connection: NativeConnection } & (
  | { pool: Pool; env: Readonly<Env> }
  /** Activities built elsewhere (the schedule benchmark), run by the very same worker setup. */
  | { activities: SyncActivities; env: Readonly<WorkerSettings> }
);

/**
 * The worker process's two SDK workers, run and stopped together: one polls the schedules queue
 * (TEMPORAL_TASK_QUEUE: district workflows and their bookkeeping), the other the runs queue
 * (runTaskQueue: sync-run workflows and the engine's activities). Each has its own workflow thread
 * and sticky queue, so a district's timer is served at once even while runs keep the other busy.
 * Both register every activity: runs started before the split finish on the schedules queue.
 */
export class SyncWorker {
  constructor(
    readonly schedules: Worker,
    readonly runs: Worker,
  ) {}

  private get all(): Worker[] {
    return [this.schedules, this.runs];
  }

  /** Resolves once both have stopped; if one fails, the other is shut down and the failure re-thrown. */
  async run(): Promise<void> {
    const results = await Promise.allSettled(
      this.all.map((worker) =>
        worker.run().catch((err: unknown) => {
          this.shutdown();
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  shutdown(): void {
    for (const worker of this.all) if (worker.getState() === 'RUNNING') worker.shutdown();
  }
}

/** What tests tune: a worker stopped mid-run on purpose, a quick fall-back from the sticky queue. */
export type WorkerTuning = Pick<WorkerOptions, 'shutdownGraceTime' | 'stickyQueueScheduleToStartTimeout'>;

/**
 * Builds the worker: the sync activities with their dependencies and the workflow bundle (bundled
 * once, shared by both SDK workers). Task queue, concurrency and cache come from config
 * (TEMPORAL_TASK_QUEUE, WORKER_MAX_ACTIVITIES, WORKER_MAX_WORKFLOW_TASKS,
 * WORKER_MAX_CACHED_WORKFLOWS, each per queue); the caller runs it and closes the connection.
 */
export async function createWorker(deps: WorkerDeps, tuning: WorkerTuning = {}): Promise<SyncWorker> {
  const { env } = deps;
  const activities =
    'activities' in deps
      ? deps.activities
      : createActivities({
          pool: deps.pool,
          artifacts: new ArtifactStore(path.resolve(deps.env.DATA_DIR, 'artifacts')),
          env: deps.env,
        });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...WORKFLOW_BUNDLER_OPTIONS,
    logger: Runtime.instance().logger,
  });
  const onQueue = (taskQueue: string): Promise<Worker> =>
    Worker.create({
      connection: deps.connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue,
      workflowBundle,
      activities,
      maxConcurrentActivityTaskExecutions: env.WORKER_MAX_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_WORKFLOW_TASKS,
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      // Let a running activity finish its current step (it heartbeats) before a deploy stops it.
      shutdownGraceTime: '30 seconds',
      ...tuning,
    });
  return new SyncWorker(
    await onQueue(env.TEMPORAL_TASK_QUEUE),
    await onQueue(runTaskQueue(env.TEMPORAL_TASK_QUEUE)),
  );
}
