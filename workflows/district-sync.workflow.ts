import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DistrictSchedule,
  DistrictSyncInput,
  RUN_CHECK_SIGNAL,
  RUN_ENDED_SIGNAL,
  RunEndedSignal,
  type DistrictStatus,
} from '../lib/contracts/schedule';
import {
  type FileArrivedSignal,
  QUERIES,
  ReviewDecisionSignal,
  SIGNALS,
  SyncNowSignal,
} from '../lib/contracts/sync';
import { LOCAL_BOOKKEEPING_PATCH, RUN_TASK_QUEUE_PATCH } from './activity-options';
import * as queue from './district-queue';
import * as inFlight from './run-in-flight';
import { DistrictRuns } from './district-runs';
import { parseInput } from './failure-info';

export const syncNowSignal = defineSignal<[SyncNowSignal]>(SIGNALS.syncNow);
export const configChangedSignal = defineSignal<[DistrictSchedule]>(SIGNALS.configChanged);
export const fileArrivedSignal = defineSignal<[FileArrivedSignal]>(SIGNALS.fileArrived);
export const reviewDecisionSignal = defineSignal<[ReviewDecisionSignal]>(SIGNALS.reviewDecision);
export const runEndedSignal = defineSignal<[RunEndedSignal]>(RUN_ENDED_SIGNAL);
export const runCheckSignal = defineSignal(RUN_CHECK_SIGNAL);
export const statusQuery = defineQuery<DistrictStatus>(QUERIES.status);

/**
 * Patches of this workflow (docs/runbook.md): each guards a change in the commands it issues, so
 * histories recorded before it replay as they ran.
 * - DUE_BEFORE_RESCHEDULE: a config change first handles a due time that passed unhandled.
 * - DISCARD_AFTER_APPROVE: a discard of an approved run that has not started yet is honoured.
 * - REMEMBER_COALESCED: run ids merged into a run count as known, so a re-delivered signal is ignored.
 * - RUN_OUTLIVES_EXECUTION: the run child is ABANDONed on close and signals its end, so the district
 *   workflow continues as new while it runs (history stays short whatever the signal rate); a fresh
 *   start settles the runs a terminated or timed-out execution left open. Asked once per execution:
 *   an execution that began without it keeps the old behaviour until it continues as new.
 */
const DUE_BEFORE_RESCHEDULE_PATCH = 'due-before-reschedule';
const DISCARD_AFTER_APPROVE_PATCH = 'discard-after-approve';
const REMEMBER_COALESCED_PATCH = 'remember-coalesced';
const RUN_OUTLIVES_EXECUTION_PATCH = 'run-outlives-execution';

/**
 * The queue's patch answers. Each is asked (patched()) when a rule reads it, exactly where the
 * rule asked before it moved to district-queue.ts, so the command sequence stays as recorded.
 */
function queuePatches(outlives: boolean): queue.QueuePatches {
  return {
    outlives,
    get dueBeforeReschedule() {
      return patched(DUE_BEFORE_RESCHEDULE_PATCH);
    },
    get discardAfterApprove() {
      return patched(DISCARD_AFTER_APPROVE_PATCH);
    },
    get rememberCoalesced() {
      return patched(REMEMBER_COALESCED_PATCH);
    },
  };
}

/** Asked first, once: this execution either lets runs outlive it or keeps the old way throughout. */
function runsOutliveExecution(): boolean {
  const outlives = patched(RUN_OUTLIVES_EXECUTION_PATCH);
  if (outlives) {
    // Such an execution has every older patch: decided here, before any local activity. (A patch
    // asked for the first time right after a local activity resolved can replay differently from
    // how it ran: the marker lands in the next workflow task.)
    for (const id of [
      LOCAL_BOOKKEEPING_PATCH,
      RUN_TASK_QUEUE_PATCH,
      DUE_BEFORE_RESCHEDULE_PATCH,
      DISCARD_AFTER_APPROVE_PATCH,
      REMEMBER_COALESCED_PATCH,
    ])
      patched(id);
  }
  return outlives;
}

/**
 * A district's schedule as one long-lived workflow (id `district-sync:<districtId>`): durable timers
 * to the next due time, Sync Now / file arrival / config change / review decision as signals, runs
 * as child workflows one at a time. Extra triggers while a run is in flight coalesce into ONE queued
 * run. A failed run never ends this workflow: the failure is recorded as the last outcome.
 * docs/schedules.md describes the rules; docs/runbook.md how to change this code safely (patched()).
 */
export async function districtSyncWorkflow(rawInput: DistrictSyncInput): Promise<void> {
  const input = parseInput(DistrictSyncInput, rawInput, 'district sync');
  const state = input.state ?? queue.initialState(input.schedule, Date.now());
  const outlives = runsOutliveExecution();
  const patches = queuePatches(outlives);
  const runs = new DistrictRuns(input, queue.openQueue(state), input.schedule, patches);

  // Handlers validate and drop bad payloads: a throw here would fail every workflow task from now on.
  const valid = <T>(name: string, parsed: { success: true; data: T } | { success: false; error: Error }) => {
    if (parsed.success) return parsed.data;
    log.warn(`Ignored an invalid ${name} signal`, { error: parsed.error.message });
    return undefined;
  };
  setHandler(syncNowSignal, (raw) => {
    const signal = valid('syncNow', SyncNowSignal.safeParse(raw));
    if (signal) runs.q = queue.enqueue(runs.q, queue.syncNowRequest(signal));
  });
  setHandler(fileArrivedSignal, () => {
    runs.q = queue.fileArrived(runs.q, runs.schedule);
  });
  setHandler(configChangedSignal, (raw) => {
    const parsed = DistrictSchedule.safeParse(raw);
    if (!parsed.success) {
      log.warn('Ignored an invalid configChanged signal; the schedule stays as it was', {
        error: parsed.error.message,
      });
      return;
    }
    runs.q = queue.configChanged(runs.q, runs.schedule, parsed.data, Date.now(), input, patches);
    runs.schedule = parsed.data;
  });
  setHandler(reviewDecisionSignal, (raw) => {
    const decision = valid('reviewDecision', ReviewDecisionSignal.safeParse(raw));
    if (decision) runs.q = queue.reviewDecision(runs.q, decision, patches);
  });
  setHandler(runEndedSignal, (raw) => {
    const signal = valid('runEnded', RunEndedSignal.safeParse(raw));
    if (signal) runs.q = inFlight.endingReported(runs.q, signal);
  });
  setHandler(statusQuery, (): DistrictStatus => queue.districtStatus(runs.q, runs.schedule));

  const continueNow = (): boolean => inFlight.historyFull(runs.q, workflowInfo(), input);
  if (outlives) {
    const carried = runs.q.state.inFlight;
    if (carried !== null) {
      runs.q = inFlight.carriedOver(runs.q, carried);
      void runs.untilEnded(carried);
    } else if (input.state === undefined) await runs.recoverOpenRuns();
  }

  for (;;) {
    await runs.recordDiscards();
    // Between runs, or while the run in flight only needs its end reported, this workflow may start
    // afresh: no child is orphaned (runs outlive it), state is plain data.
    if (inFlight.mayContinueAsNew(runs.q, outlives) && continueNow()) {
      await continueAsNew<typeof districtSyncWorkflow>({
        ...input,
        schedule: runs.schedule,
        state: inFlight.carriedState(runs.q),
      });
    }
    const { queue: rest, next } = queue.takeNext(runs.q);
    if (next) {
      runs.q = rest;
      void runs.run(next);
      continue;
    }
    const due = runs.q.state.nextDueAt;
    const attention = (): boolean => inFlight.needsAttention(runs.q, outlives, workflowInfo, input);
    if (due === null) await condition(attention);
    else await condition(attention, Math.max(1, due - Date.now()));
    runs.q = inFlight.lookedAgain(runs.q);
    const now = Date.now();
    if (queue.isDue(runs.q, now))
      runs.q = queue.onDue(runs.q, runs.schedule, runs.q.state.nextDueAt!, now, input);
  }
}
