import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadEnv } from '../../lib/config/env';
import { runTaskQueue } from '../../lib/contracts/sync';
import { createPool } from '../../lib/db/pool';
import { connectClient, connectWorker } from '../../lib/temporal/connection';
import { ensureMailSweep } from '../../lib/temporal/mail-sweep.client';
import { createWorker } from './worker';

/**
 * The Temporal worker process. SIGTERM / SIGINT start a graceful shutdown (the SDK's runtime
 * installs those handlers): polling stops, running activities get the grace time, then it exits.
 */
async function run(): Promise<void> {
  const env = loadEnv();
  // The SDK's INFO level is mostly workflow-bundling chatter; its warnings and errors always show.
  const sdkLevel = env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace' ? 'DEBUG' : 'WARN';
  Runtime.install({ logger: new DefaultLogger(sdkLevel), shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const connection = await connectWorker(env);
  // Up to four connections per activity (the run's guard holds one; a stage's checks and a plan's
  // halves run side by side; mail holds one while it sends a batch), plus the run bookkeeping.
  const pool = createPool(env.DATABASE_URL, env.WORKER_MAX_ACTIVITIES * 4 + 2, 'worker');
  try {
    const worker = await createWorker({ connection, pool, env });
    // Mail owed after an SMTP outage that outlasted a run's mail retries goes out later by itself.
    const client = await connectClient(env);
    try {
      await ensureMailSweep(client, env.TEMPORAL_TASK_QUEUE, {
        everyMs: env.MAIL_SWEEP_MINUTES * 60_000,
        olderThanMs: env.MAIL_SWEEP_MINUTES * 60_000,
      });
    } finally {
      await client.connection.close();
    }
    console.log(
      `worker polling task queues "${env.TEMPORAL_TASK_QUEUE}" (schedules) and ` +
        `"${runTaskQueue(env.TEMPORAL_TASK_QUEUE)}" (runs) at ${env.TEMPORAL_ADDRESS} ` +
        `(activities ${env.WORKER_MAX_ACTIVITIES}, workflow tasks ${env.WORKER_MAX_WORKFLOW_TASKS}, cached workflows ${env.WORKER_MAX_CACHED_WORKFLOWS})`,
    );
    await worker.run();
  } finally {
    await pool.end();
    await connection.close();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
