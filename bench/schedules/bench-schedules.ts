import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { Context } from '@temporalio/activity';
import { temporal as proto } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { SyncActivities } from '../../activities/types';
import { createWorker, parseWorkerSettings } from '../../apps/worker/worker';
import type { DistrictSyncInput } from '../../lib/contracts/schedule';
import { districtWorkflowId, runTaskQueue } from '../../lib/contracts/sync';
import { DEV_SERVER_DYNAMIC_CONFIG, devServerArgs } from '../../lib/temporal/dev-server';
import { DistrictIdKey, SEARCH_ATTRIBUTES } from '../../lib/temporal/search-attributes';
import { applied, planned, stagedRows } from '../../test/support/activity-results';
import { dueState, schedule } from '../../test/support/district-schedule';

/**
 * Durable per-district timers at scale. Starts its own Temporal dev server (loopback, search
 * attributes registered) and the production worker (createWorker: same workflows, task queues and
 * concurrency settings), starts N district workflows whose next due times spread over a window
 * shortly after the starts, and measures how late each scheduled run fires: the moment the district
 * workflow, woken by its timer, schedules the run's first activity (createRun), against its due
 * time; and, for the load the runs add, how late the run's first step on the runs queue (fetchFile)
 * starts. The activities only record what ran (no database, no files): the figures are about the
 * schedule and the worker, not the sync engine.
 *
 *   npm run bench:schedules -- [--districts 2000] [--spread 120] [--lead 30]
 *   WORKER_MAX_ACTIVITIES (here 20 unless set: these activities do no I/O) and
 *   WORKER_MAX_WORKFLOW_TASKS set the worker's concurrency as in production.
 */
function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]?.replace(/_/g, ''));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
}

const TARGET_MS = 5_000;
const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory and CPU time of the Temporal dev server (a child of this process); zeros if unseen. */
function childStats(name: string): { rss: number; cpuMs: number } {
  const stats = { rss: 0, cpuMs: 0 };
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
      const comm = /^Name:\s+(.+)$/m.exec(status)?.[1];
      if (ppid !== String(process.pid) || comm !== name) continue;
      stats.rss += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
      // utime and stime, in clock ticks (100 per second on Linux), follow the parenthesised name.
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      stats.cpuMs += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // the process ended between listing and reading
    }
  }
  return stats;
}

/**
 * Activities that record when each district's scheduled run fired (the workflow scheduled createRun)
 * and when the run's fetchFile started, and succeed at once.
 */
function recordingActivities(
  fired: Map<string, number>,
  begun: Map<string, number>,
  finished: Set<string>,
): SyncActivities {
  const districtOfRun = new Map<string, string>();
  return {
    createRun: async ({ districtId }) => {
      const runId = crypto.randomUUID();
      if (!fired.has(districtId)) {
        fired.set(districtId, Context.current().info.scheduledTimestampMs);
        districtOfRun.set(runId, districtId);
      }
      return { runId };
    },
    startRun: async () => ({
      safeguards: { errorThresholdPct: -1, maxArchivePct: -1, maxArchiveCount: -1, maxRowDropPct: -1 },
    }),
    fetchFile: async ({ runId }) => {
      const districtId = districtOfRun.get(runId);
      if (districtId !== undefined && !begun.has(districtId)) begun.set(districtId, Date.now());
      return { fileRef: `runs/${runId}/original.csv`, name: 'roster.csv', size: 1, sha256: 'x' };
    },
    stageFile: async () => stagedRows(1),
    planChanges: async () => planned({ unchanged: 1, activeBefore: 1, previousRowCount: 1 }),
    applyChanges: async () => applied(),
    sendWelcomeEmails: async () => ({ sent: 0 }),
    notifyAdmins: async () => ({ sent: 0 }),
    openRuns: async () => ({ running: [], queued: [], held: null }),
    abandonRun: async () => ({ status: 'failed' }),
    finishRun: async ({ runId }) => {
      finished.add(runId);
    },
  };
}

/**
 * For the latest-firing districts, where the time went between the due time and the wake-up task
 * completing: the timer (server), the wait for a worker to pick the task up (matching, worker
 * slots), or the worker's processing. Read from each workflow's own history.
 */
async function explainLatest(
  temporal: TestWorkflowEnvironment,
  ids: string[],
  fired: Map<string, number>,
  due: Map<string, number>,
): Promise<void> {
  const late = (id: string) => (fired.get(id) ?? Date.now()) - (due.get(id) ?? 0);
  const latest = [...ids].sort((a, b) => late(b) - late(a)).slice(0, 3);
  if (latest.length === 0 || late(latest[0]) <= TARGET_MS) return;
  console.log("  latest fires, from the district workflows' histories (ms after due):");
  for (const id of latest) {
    const history = await temporal.client.workflow.getHandle(districtWorkflowId(id)).fetchHistory();
    const dueAt = due.get(id) ?? 0;
    const steps: string[] = [];
    for (const event of history.events ?? []) {
      const at =
        Number(event.eventTime?.seconds ?? 0) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);
      if (at < dueAt - 1000) continue;
      const type = String(proto.api.enums.v1.EventType[event.eventType ?? 0]).replace('EVENT_TYPE_', '');
      steps.push(`${type} +${at - dueAt}`);
      if (steps.length >= 8) break;
    }
    console.log(`    ${id.slice(0, 8)} late ${sec(late(id))}: ${steps.join(', ')}`);
  }
}

async function main(): Promise<void> {
  const districts = Math.floor(arg('districts', 2000));
  const spreadMs = arg('spread', 120) * 1000;
  const leadMs = arg('lead', 30) * 1000; // the first due time comes after the starts are done
  const bin = process.env.TEMPORAL_BIN;
  if (!bin)
    throw new Error('TEMPORAL_BIN is not set: run `npm run bench:schedules`, which builds and locates it.');
  // Slow-task warnings from the SDK core would drown the figures; the lateness figures tell the same.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const settings = parseWorkerSettings({
    WORKER_MAX_ACTIVITIES: '20',
    ...process.env,
    TEMPORAL_TASK_QUEUE: 'bench-schedules',
    TEMPORAL_NAMESPACE: 'default',
  });

  const dynamicConfig = Object.entries(DEV_SERVER_DYNAMIC_CONFIG)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(', ');
  console.log(`starting the Temporal dev server (${bin}) on loopback, with ${dynamicConfig}...`);
  const temporal = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: bin },
      ip: '127.0.0.1',
      searchAttributes: SEARCH_ATTRIBUTES,
      extraArgs: devServerArgs(),
    },
  });
  const fired = new Map<string, number>();
  const begun = new Map<string, number>();
  const finished = new Set<string>();
  const due = new Map<string, number>();
  let peakRss = 0;
  let peakHeap = 0;
  let peakServerRss = 0;
  const sample = () => {
    const memory = process.memoryUsage();
    peakRss = Math.max(peakRss, memory.rss);
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    peakServerRss = Math.max(peakServerRss, childStats('temporal').rss);
  };
  const sampler = setInterval(sample, 500);
  try {
    const worker = await createWorker({
      connection: temporal.nativeConnection,
      env: settings,
      activities: recordingActivities(fired, begun, finished),
    });
    const running = worker.run();
    try {
      console.log(
        `worker: task queues "${settings.TEMPORAL_TASK_QUEUE}" and "${runTaskQueue(settings.TEMPORAL_TASK_QUEUE)}", activities ${settings.WORKER_MAX_ACTIVITIES}, ` +
          `workflow tasks ${settings.WORKER_MAX_WORKFLOW_TASKS}, cached workflows ${settings.WORKER_MAX_CACHED_WORKFLOWS}; ${districts} districts due over ${sec(spreadMs)} ` +
          `starting ${sec(leadMs)} from now`,
      );
      const rssBefore = process.memoryUsage().rss;
      const cpuBefore = { worker: process.cpuUsage(), server: childStats('temporal').cpuMs };
      const base = Date.now() + leadMs;
      const ids = Array.from({ length: districts }, () => crypto.randomUUID());
      ids.forEach((id, i) => due.set(id, base + Math.floor((spreadMs * i) / districts)));
      const startedAt = performance.now();
      let next = 0;
      // Like the API: one start per district, business id, DistrictId search attribute; 64 in flight.
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < ids.length) {
            const districtId = ids[next++];
            const input: DistrictSyncInput = {
              districtId,
              // Daily 02:00 from 2030: the only slot in this benchmark is the carried one below.
              schedule: schedule(),
              // Carried state (as after continue-as-new) puts this district's next slot at its due time.
              state: dueState(due.get(districtId) ?? base),
            };
            await temporal.client.workflow.start('districtSyncWorkflow', {
              workflowId: districtWorkflowId(districtId),
              taskQueue: settings.TEMPORAL_TASK_QUEUE,
              args: [input],
              typedSearchAttributes: [{ key: DistrictIdKey, value: districtId }],
            });
          }
        }),
      );
      const startMs = performance.now() - startedAt;
      sample();
      const rssAfterStart = process.memoryUsage().rss;
      if (Date.now() > base)
        console.log(`warning: starting took longer than the ${sec(leadMs)} lead; raise --lead`);

      const deadline = base + spreadMs + 60_000;
      while (fired.size < districts && Date.now() < deadline) await sleep(500);
      // Let the runs started last finish too, so the server is idle when it stops.
      while (finished.size < fired.size && Date.now() < deadline + 30_000) await sleep(500);
      sample();
      const workerCpu = process.cpuUsage(cpuBefore.worker);
      const workerCpuMs = (workerCpu.user + workerCpu.system) / 1000;
      const serverCpuMs = childStats('temporal').cpuMs - cpuBefore.server;
      const lateBy = (times: Map<string, number>) =>
        ids
          .filter((id) => times.has(id))
          .map((id) => (times.get(id) ?? 0) - (due.get(id) ?? 0))
          .sort((a, b) => a - b);
      const lateness = lateBy(fired);
      const startLateness = lateBy(begun);
      const early = lateness.filter((l) => l < 0).length;
      const within = lateness.filter((l) => l >= 0 && l <= TARGET_MS).length;
      const met = within === districts;

      console.log('');
      console.log(`schedules benchmark: ${districts} district workflows`);
      console.log(
        `  start:     ${districts} started in ${sec(startMs)} (${(districts / (startMs / 1000)).toFixed(0)} workflows/s)`,
      );
      console.log(
        `  fired:     ${lateness.length}/${districts} scheduled runs, ${early} before their due time; ` +
          `${finished.size} runs finished`,
      );
      console.log(
        `  fired late by: p50 ${sec(percentile(lateness, 50))}, p95 ${sec(percentile(lateness, 95))}, ` +
          `p99 ${sec(percentile(lateness, 99))}, max ${sec(percentile(lateness, 100))}`,
      );
      // Where in the window the misses fell (start-up, the middle of the load, the end) hints at why.
      const missedAt = ids
        .filter((id) => (fired.get(id) ?? Infinity) - (due.get(id) ?? 0) > TARGET_MS)
        .map((id) => `+${sec((due.get(id) ?? base) - base)}`);
      if (missedAt.length > 0)
        console.log(
          `  missed:    due at ${missedAt.slice(0, 10).join(', ')}${missedAt.length > 10 ? ', ...' : ''} into the window`,
        );
      console.log(
        `  target:    ${within}/${districts} fired within ${sec(TARGET_MS)} of due: ${met ? 'met' : 'NOT met'}`,
      );
      console.log(
        `  run's fetchFile started late by: p50 ${sec(percentile(startLateness, 50))}, ` +
          `p95 ${sec(percentile(startLateness, 95))}, max ${sec(percentile(startLateness, 100))} ` +
          `(the run queued on the runs queue: WORKER_MAX_ACTIVITIES and CPU)`,
      );
      console.log(
        `  worker:    RSS ${mb(rssBefore)} before starts, ${mb(rssAfterStart)} after starts, peak ${mb(peakRss)}, ` +
          `JS heap in use peak ${mb(peakHeap)} (one process: worker + the client that started the workflows)`,
      );
      console.log(
        `  server:    Temporal dev server RSS peak ${peakServerRss > 0 ? mb(peakServerRss) : 'n/a'}`,
      );
      console.log(
        `  CPU:       worker ${sec(workerCpuMs)}, server ${sec(serverCpuMs)} from the first start to the end ` +
          `(${os.cpus().length} cores; load average now ${os.loadavg()[0].toFixed(1)}: other work on the machine counts)`,
      );
      await explainLatest(temporal, ids, fired, due);
      process.exitCode = met && early === 0 ? 0 : 1;
    } finally {
      worker.shutdown();
      await running;
    }
  } finally {
    clearInterval(sampler);
    await temporal.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
