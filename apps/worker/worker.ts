import path from 'node:path';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from '../../activities';
import type { Env } from '../../lib/config/env';
import { ArtifactStore } from '../../lib/storage/artifact-store';

/** Compiled workflow entry (the worker bundles it); resolved next to this file inside dist/. */
export const WORKFLOWS_PATH = require.resolve('../../workflows');

/**
 * Builds the worker: the sync activities with their dependencies and the workflow bundle. Nothing
 * else lives here, so tests and the benchmark can build the same worker around other activities.
 */
export async function createWorker(deps: {
  connection: NativeConnection;
  pool: Pool;
  env: Readonly<Env>;
}): Promise<Worker> {
  const { env } = deps;
  const artifacts = new ArtifactStore(path.resolve(env.DATA_DIR, 'artifacts'));
  return await Worker.create({
    connection: deps.connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities({ pool: deps.pool, artifacts, env }),
    maxConcurrentActivityTaskExecutions: env.WORKER_MAX_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_WORKFLOW_TASKS,
    // Let a running activity finish its current step (it heartbeats) before a deploy stops it.
    shutdownGraceTime: '30 seconds',
  });
}
