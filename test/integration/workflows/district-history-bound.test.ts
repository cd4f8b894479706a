import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWorkflowId, SIGNALS } from '../../../lib/contracts/sync';
import { useTestTemporal } from '../../support/temporal';
import {
  ActivityRecorder,
  eventually,
  Gate,
  gatedFetch,
  schedule,
  startDistrict,
  startWorker,
  status,
  uuid,
} from './harness';

const env = useTestTemporal();

/** Signals a flood would send; bounded so the test stays quick on a shared 2-core machine. */
const FILE_ARRIVALS = 2_900;
const SYNC_NOWS = 100;
/** A low bound to make continue-as-new happen often (production relies on continueAsNewSuggested). */
const MAX_HISTORY_EVENTS = 300;
/**
 * What an execution may reach: Temporal refuses to close an execution while signals it has not
 * seen are pending, so under a flood continue-as-new lands at the next gap between signals. One
 * execution gathering the whole flood would pass 3,000 events (one per signal, plus tasks).
 */
const EXECUTION_CEILING = 2_000;
/** Signals in flight at once. */
const CONCURRENCY = 20;

describe('district workflow history under a flood of signals during a long run', () => {
  it('continues as new while the run is in flight, keeps one run at a time, then runs the coalesced run once', async (t) => {
    const taskQueue = `tq-${uuid()}`;
    const districtId = uuid();
    const recorder = new ActivityRecorder();
    const gate = new Gate();
    const first = uuid();
    recorder.behaviour.fetchFile = gatedFetch(gate, (runId) => runId === first);
    const worker = await startWorker(env, taskQueue, recorder);
    try {
      const handle = await startDistrict(env.client, taskQueue, {
        districtId,
        schedule: schedule({ processOnArrival: true }),
        maxHistoryEvents: MAX_HISTORY_EVENTS,
      });
      const firstExecution = (await handle.describe()).runId;
      await handle.signal(SIGNALS.syncNow, { runId: first, dryRun: false, trigger: 'sync_now' });
      await eventually('first run blocked in fetchFile', () => gate.entered);

      // The flood: file arrivals and Sync Now requests, CONCURRENCY at a time, while the run is in flight.
      const syncNowIds = Array.from({ length: SYNC_NOWS }, () => uuid());
      const signals = [
        ...Array.from(
          { length: FILE_ARRIVALS },
          (_, i) => () =>
            env.client.workflow
              .getHandle(handle.workflowId)
              .signal(SIGNALS.fileArrived, { path: `f${i}.csv` }),
        ),
        ...syncNowIds.map(
          (runId) => () =>
            env.client.workflow
              .getHandle(handle.workflowId)
              .signal(SIGNALS.syncNow, { runId, dryRun: false, trigger: 'sync_now' }),
        ),
      ];
      let longest = 0;
      for (let i = 0; i < signals.length; i += CONCURRENCY) {
        await Promise.all(signals.slice(i, i + CONCURRENCY).map((send) => send()));
        if (i % 200 === 0) longest = Math.max(longest, (await handle.describe()).historyLength);
      }
      longest = Math.max(longest, (await handle.describe()).historyLength);

      // Before: one execution gathered every signal (about 3 events each, ~9,000 for this flood).
      // Signals still pending when the flood ends hold the first execution open until the worker
      // has seen them; it continues as new at the next gap, so wait for that gap rather than race it.
      const firstExecutionNow = await eventually('first execution continued as new', async () => {
        const d = await env.client.workflow.getHandle(handle.workflowId, firstExecution).describe();
        return d.status.name === 'CONTINUED_AS_NEW' ? d : undefined;
      });
      longest = Math.max(longest, firstExecutionNow.historyLength);
      assert.ok(longest < EXECUTION_CEILING, `an execution reached ${longest} events`);
      t.diagnostic(`${signals.length} signals during one run; longest execution seen: ${longest} events`);
      const during = await status(handle);
      assert.equal(during.inFlightRunId, first, 'the run is still in flight across continue-as-new');
      assert.equal(during.queued, true);
      assert.deepEqual(recorder.started(), [first], 'nothing else started while the run was in flight');

      gate.release();
      const done = await eventually(
        'coalesced run finished',
        async () => {
          const s = await status(handle);
          return s.inFlightRunId === null && !s.queued && s.lastOutcome?.runId !== first ? s : undefined;
        },
        60_000,
      );
      assert.equal(done.lastOutcome?.status, 'succeeded');
      // Exactly two runs, one after the other: the long one and the single coalesced one.
      const started = recorder.started();
      assert.equal(started.length, 2, `runs started: ${started.join(', ')}`);
      assert.equal(started[0], first);
      const coalescedRun = started[1];
      assert.equal(done.lastOutcome?.runId, coalescedRun);
      const firstFinished = recorder.calls.find((c) => c.name === 'finishRun' && c.runId === first)!.at;
      const secondStarted = recorder.calls.find((c) => c.name === 'startRun' && c.runId === coalescedRun)!.at;
      assert.ok(secondStarted >= firstFinished, 'the coalesced run started only after the first ended');
      assert.deepEqual(recorder.run(first).statuses, ['running', 'succeeded']);
      // Every Sync Now id the API returned reaches a final status: one ran, the rest were merged into it.
      assert.ok(syncNowIds.includes(coalescedRun), 'the newest Sync Now row is the one that ran');
      await eventually('merged requests recorded', () =>
        syncNowIds.every((id) => id === coalescedRun || recorder.run(id).statuses[0] === 'discarded'),
      );
      for (const id of syncNowIds.filter((id) => id !== coalescedRun))
        assert.equal(recorder.run(id).failureMessage, `Coalesced into run ${coalescedRun}.`);
      // The run's child outlived the execution that started it and completed on its own.
      const child = await env.client.workflow.getHandle(runWorkflowId(districtId, first)).describe();
      assert.equal(child.status.name, 'COMPLETED');
      assert.ok((await handle.describe()).historyLength < EXECUTION_CEILING);
    } finally {
      gate.release();
      await worker.stop();
    }
  });
});
