import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { writeHistory } from './history-file';
import { runWorkflowId, SIGNALS } from '../../lib/contracts/sync';
import { REPO_ROOT } from '../support/paths';
import { startTestTemporal } from '../support/temporal';
import {
  ActivityRecorder,
  eventually,
  Gate,
  schedule,
  startDistrict,
  startWorker,
  status,
  uuid,
} from '../integration/workflows/harness';

/**
 * Records the histories the replay test checks (test/histories/*.json): one district workflow through
 * a scheduled run, coalesced Sync Now requests, a config change, a retried activity, a failure, a
 * hold and its approval, plus each kind of run child and a continued-as-new execution. Keep the
 * existing files when workflow code changes (they are what running workflows look like); add newly
 * recorded ones beside them under a new name when the change adds a path worth pinning:
 *   npx tsc -p tsconfig.json && TEMPORAL_BIN=.tools/bin/temporal node dist/test/replay/record-histories.js
 * HISTORIES_OUT=<dir> records into another folder, to pick the new files to keep from there.
 */
const OUT = process.env.HISTORIES_OUT ?? path.join(REPO_ROOT, 'test', 'histories');

async function save(name: string, handle: WorkflowHandle): Promise<void> {
  const history = await handle.fetchHistory();
  writeHistory(path.join(OUT, `${name}.json`), history);
  console.log(`recorded ${name} (${history.events?.length ?? 0} events)`);
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const env = await startTestTemporal();
  try {
    const taskQueue = `record-${uuid()}`;
    const recorder = new ActivityRecorder();
    const gate = new Gate();
    const districtId = uuid();
    const [first, second, third, bad, held] = [uuid(), uuid(), uuid(), uuid(), uuid()];
    recorder.behaviour.fetchFile = async ({ runId }) => {
      if (runId === first) await gate.pass();
      return { fileRef: `runs/${runId}/original.csv`, name: 'roster.csv', size: 10, sha256: 'x' };
    };
    recorder.behaviour.stageFile = async ({ runId }) =>
      runId === bad
        ? {
            rowsTotal: 0,
            rowsBlank: 0,
            rowsValid: 0,
            rowsWithErrors: 0,
            warningCount: 0,
            fatal: { type: 'MissingColumns', message: 'The file has no "email" column.' },
          }
        : { rowsTotal: 10, rowsBlank: 0, rowsValid: 10, rowsWithErrors: 0, warningCount: 0 };
    let fetchAttempts = 0;
    recorder.behaviour.planChanges = async ({ runId }) => {
      if (runId === third && ++fetchAttempts < 2) throw new Error('database connection reset');
      return {
        create: 1,
        update: 0,
        unchanged: 9,
        reactivate: 0,
        archive: runId === held ? 9 : 0,
        activeBefore: 9,
        previousRowCount: 10,
      };
    };
    const worker = await startWorker(env, taskQueue, recorder);
    try {
      const handle = await startDistrict(env.client, taskQueue, {
        districtId,
        schedule: schedule({ startDate: '2026-01-01', timeZone: 'Europe/London' }),
        state: {
          nextDueAt: Date.now() + 1_500,
          queued: null,
          approved: null,
          held: null,
          lastOutcome: null,
          recentRunIds: [],
        },
      });
      // A scheduled run, then Sync Now coalescing, a retried activity, a failure, a hold and its approval.
      await eventually(
        'scheduled run',
        async () => (await status(handle)).lastOutcome?.status === 'succeeded',
      );
      const scheduledRunId = recorder.started()[0];
      await handle.signal(SIGNALS.syncNow, { runId: first, dryRun: false, trigger: 'sync_now' });
      await eventually('first in flight', () => gate.entered);
      await handle.signal(SIGNALS.syncNow, { runId: second, dryRun: false, trigger: 'sync_now' });
      await handle.signal(SIGNALS.syncNow, { runId: third, dryRun: false, trigger: 'sync_now' });
      await handle.signal(
        SIGNALS.configChanged,
        schedule({ timeZone: 'America/Chicago', frequency: 'weekly' }),
      );
      gate.release();
      await eventually('third done', async () => (await status(handle)).lastOutcome?.runId === third);
      await handle.signal(SIGNALS.syncNow, { runId: bad, dryRun: false, trigger: 'sync_now' });
      await eventually('bad done', async () => (await status(handle)).lastOutcome?.runId === bad);
      await handle.signal(SIGNALS.syncNow, { runId: held, dryRun: false, trigger: 'sync_now' });
      await eventually('held', async () => (await status(handle)).heldRunId === held);
      const heldExecution = (await env.client.workflow.getHandle(runWorkflowId(districtId, held)).describe())
        .runId;
      await handle.signal(SIGNALS.reviewDecision, { runId: held, approve: true });
      await eventually('approved run applied', async () => {
        const s = await status(handle);
        return s.lastOutcome?.runId === held && s.lastOutcome.status === 'succeeded';
      });

      const child = (runId: string, execution?: string) =>
        env.client.workflow.getHandle(runWorkflowId(districtId, runId), execution);
      await save('district-sync.lifecycle', handle);
      await save('sync-run.scheduled-succeeded', child(scheduledRunId));
      await save('sync-run.retried-activity', child(third));
      await save('sync-run.missing-columns', child(bad));
      await save('sync-run.held', child(held, heldExecution));
      await save('sync-run.approved', child(held));

      // Continue-as-new: the first execution's history ends with the carried state.
      const canDistrict = uuid();
      const can = await startDistrict(env.client, taskQueue, {
        districtId: canDistrict,
        schedule: schedule({ frequency: 'monthly', startDate: '2031-01-31' }),
        maxRunsPerExecution: 1,
      });
      const firstExecution = (await can.describe()).runId;
      await can.signal(SIGNALS.syncNow, { runId: uuid(), dryRun: true, trigger: 'sync_now' });
      await eventually('continued as new', async () => {
        const d = await env.client.workflow.getHandle(can.workflowId, firstExecution).describe();
        return d.status.name === 'CONTINUED_AS_NEW';
      });
      await save(
        'district-sync.continued-as-new',
        env.client.workflow.getHandle(can.workflowId, firstExecution),
      );

      // A run that outlives the execution that started it: continue-as-new with the run in flight.
      const outlivingDistrict = uuid();
      const outlivingRun = uuid();
      const outlivingGate = new Gate();
      const fetchBefore = recorder.behaviour.fetchFile;
      recorder.behaviour.fetchFile = async (input) => {
        if (input.runId === outlivingRun) await outlivingGate.pass();
        return await fetchBefore!(input);
      };
      const outliving = await startDistrict(env.client, taskQueue, {
        districtId: outlivingDistrict,
        schedule: schedule({ processOnArrival: true }),
        maxHistoryEvents: 40,
      });
      const startingExecution = (await outliving.describe()).runId;
      await outliving.signal(SIGNALS.syncNow, { runId: outlivingRun, dryRun: false, trigger: 'sync_now' });
      await eventually('outliving run in flight', () => outlivingGate.entered);
      for (let i = 0; i < 30; i++) await outliving.signal(SIGNALS.fileArrived, { path: `f${i}.csv` });
      await eventually('continued as new with the run in flight', async () => {
        const d = await env.client.workflow.getHandle(outliving.workflowId, startingExecution).describe();
        return d.status.name === 'CONTINUED_AS_NEW';
      });
      const carryingExecution = (await outliving.describe()).runId;
      outlivingGate.release();
      await eventually('outliving run and the coalesced one done', async () => {
        const s = await status(outliving);
        return s.lastOutcome !== null && s.lastOutcome.runId !== outlivingRun && s.inFlightRunId === null;
      });
      await save(
        'district-sync.run-outlives-execution',
        env.client.workflow.getHandle(outliving.workflowId, startingExecution),
      );
      await save(
        'district-sync.run-carried-over',
        env.client.workflow.getHandle(outliving.workflowId, carryingExecution),
      );
      await save(
        'sync-run.notify-district',
        env.client.workflow.getHandle(runWorkflowId(outlivingDistrict, outlivingRun)),
      );
    } finally {
      await worker.stop();
    }
  } finally {
    await env.teardown();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
