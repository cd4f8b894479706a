import {
  type DistrictSchedule,
  DistrictState,
  type DistrictStatus,
  type QueuedRun,
  type RunEndedSignal,
} from '../lib/contracts/schedule';
import type { ReviewDecisionSignal, SyncNowSignal } from '../lib/contracts/sync';
import { nextDueAfter, nextDueFor, toLocalIso } from '../lib/schedule/next-due';

/**
 * The district workflow's queue as data, and its transitions: what a trigger, a Sync Now, a config
 * change or a review decision does to it, and which run goes next. Pure: no Temporal calls, so every
 * rule is a unit test (test/unit/workflows/). The workflow (district-sync.workflow.ts) holds one
 * DistrictQueue, replaces it with what each transition returns, and does the side effects
 * (activities, children, timers) the queue asks for. The transitions of the run in flight (its start
 * and end, recovery, continue-as-new) are in run-in-flight.ts.
 *
 * Patch answers come in as `patches`: the workflow backs each with patched(), read only where the
 * rule asks for it, as before the rules moved here (asking at a new point would add a marker to the
 * command sequence of an execution that predates the patch).
 */

const RECENT_RUN_IDS = 50;

/** The patches the rules depend on (see district-sync.workflow.ts for what each guards). */
export interface QueuePatches {
  /** RUN_OUTLIVES_EXECUTION, decided once per execution. */
  readonly outlives: boolean;
  readonly dueBeforeReschedule: boolean;
  readonly discardAfterApprove: boolean;
  readonly rememberCoalesced: boolean;
}

/** The run in flight as this execution knows it. `watched`: its child runs and only its end is awaited. */
export interface RunInFlight {
  runId: string | null;
  dryRun: boolean;
  watched?: boolean;
}

/** A run row to close as discarded, with the reason the run history shows. */
export interface Discard {
  runId: string;
  message: string;
}

export interface DistrictQueue {
  /** What continue-as-new carries. */
  readonly state: DistrictState;
  readonly inFlight: RunInFlight | null;
  /** A review decision for the run in flight that came before the run reported its hold. */
  readonly earlyDecision: ReviewDecisionSignal | null;
  /** Run rows to close as discarded, in this order; the workflow records them. */
  readonly discards: readonly Discard[];
  /** How runs ended, as their children reported it (RunEndedSignal). */
  readonly endings: ReadonlyMap<string, RunEndedSignal>;
  readonly runsThisExecution: number;
  /** The loop must look again: the schedule changed (the timer waits for a stale due time) or a run ended. */
  readonly lookAgain: boolean;
}

/** When scheduled runs are due and how late a missed one may still catch up. */
export interface DueRules {
  catchUpGraceMs: number;
  catchUpWindowHours: number;
}

/** A district's first state: next due by its schedule; the schema's defaults for the rest (nothing waiting). */
export const initialState = (schedule: DistrictSchedule, now: number): DistrictState =>
  DistrictState.parse({ nextDueAt: nextDueFor(schedule, now), queued: null, lastOutcome: null });

export function openQueue(state: DistrictState): DistrictQueue {
  return {
    state,
    inFlight: null,
    earlyDecision: null,
    discards: [],
    endings: new Map(),
    runsThisExecution: 0,
    lookAgain: false,
  };
}

export const withState = (q: DistrictQueue, change: Partial<DistrictState>): DistrictQueue => ({
  ...q,
  state: { ...q.state, ...change },
});

export const withDiscard = (q: DistrictQueue, runId: string, message: string): DistrictQueue => ({
  ...q,
  discards: [...q.discards, { runId, message }],
});

/** A run this district already has: in flight, waiting, merged into a waiting run, or started lately. */
export function isKnown(q: DistrictQueue, runId: string): boolean {
  const { state } = q;
  return (
    runId === q.inFlight?.runId ||
    runId === state.queued?.runId ||
    runId === state.approved?.runId ||
    state.queued?.coalesced.includes(runId) === true ||
    state.recentRunIds.includes(runId)
  );
}

/** The run ids started lately, with `runIds` added: a re-delivered signal for one is not a new request. */
export const remember = (q: DistrictQueue, ...runIds: string[]): DistrictQueue =>
  withState(q, { recentRunIds: [...q.state.recentRunIds, ...runIds].slice(-RECENT_RUN_IDS) });

export const syncNowRequest = (signal: SyncNowSignal): QueuedRun => ({
  runId: signal.runId,
  trigger: signal.trigger,
  dryRun: signal.dryRun,
  resumeApproved: false,
  coalesced: [],
});

/** A run the workflow itself asks for; its row is created when its turn comes. */
export const triggeredRequest = (trigger: 'schedule' | 'catch_up' | 'file_arrived'): QueuedRun => ({
  runId: null,
  trigger,
  dryRun: false,
  resumeApproved: false,
  coalesced: [],
});

/** Puts a request in the single queued slot, merging with what is already waiting. */
export function enqueue(q: DistrictQueue, request: QueuedRun): DistrictQueue {
  if (request.runId !== null && isKnown(q, request.runId)) return q; // a re-delivered signal
  const waiting = q.state.queued;
  if (!waiting) return withState(q, { queued: request });
  // The merged run is a dry run only if every request was one: nobody asking for a real sync loses it.
  const dryRun = waiting.dryRun && request.dryRun;
  // Keep the newest request of the right kind, preferring one whose run row the API already created.
  const candidates = [request, waiting].filter((r) => r.dryRun === dryRun);
  const keep = candidates.find((r) => r.runId !== null) ?? candidates[0];
  const drop = keep === request ? waiting : request;
  return withState(q, {
    queued: {
      ...keep,
      coalesced: [...waiting.coalesced, ...request.coalesced, ...(drop.runId !== null ? [drop.runId] : [])],
    },
  });
}

export const fileArrived = (q: DistrictQueue, schedule: DistrictSchedule): DistrictQueue =>
  schedule.processOnArrival ? enqueue(q, triggeredRequest('file_arrived')) : q;

/** The due time has come (now >= nextDueAt). */
export const isDue = (q: DistrictQueue, now: number): boolean =>
  q.state.nextDueAt !== null && now >= q.state.nextDueAt;

/** The timer fired (or fired late because no worker was up): queue a scheduled or catch-up run. */
export function onDue(
  q: DistrictQueue,
  schedule: DistrictSchedule,
  due: number,
  now: number,
  rules: DueRules,
): DistrictQueue {
  // Only the next slot after now: however many slots were missed, at most one catch-up run.
  const next = withState(q, { nextDueAt: nextDueFor(schedule, now) });
  if (now - due <= rules.catchUpGraceMs) return enqueue(next, triggeredRequest('schedule'));
  // Missed while no worker ran: catch up once if the latest missed slot is still within the window.
  const windowStart = Math.max(due - 1, now - rules.catchUpWindowHours * 3_600_000);
  const missed = nextDueAfter(schedule, windowStart);
  return missed !== null && missed <= now ? enqueue(next, triggeredRequest('catch_up')) : next;
}

/** A saved config: the next due time follows the new schedule. */
export function configChanged(
  q: DistrictQueue,
  from: DistrictSchedule,
  to: DistrictSchedule,
  now: number,
  rules: DueRules,
  patches: Pick<QueuePatches, 'dueBeforeReschedule'>,
): DistrictQueue {
  // A due time that passed without being handled (its timer fired while no worker ran, or in this
  // very moment) is handled first, under the schedule it was due by: saving the config must not
  // cancel the run that time asked for.
  let next = q;
  if (patches.dueBeforeReschedule && q.state.nextDueAt !== null && now >= q.state.nextDueAt) {
    next = onDue(q, from, q.state.nextDueAt, now, rules);
  }
  return { ...withState(next, { nextDueAt: nextDueFor(to, now) }), lookAgain: true };
}

/** Only the run actually waiting counts: a decision for a superseded or decided run changes nothing. */
export function decide(
  q: DistrictQueue,
  { runId, approve }: ReviewDecisionSignal,
  patches: Pick<QueuePatches, 'discardAfterApprove'>,
): DistrictQueue {
  const { state } = q;
  // Approved but not started yet (a run is still in flight): the run row still says held, so the
  // admin may still change their mind, and a discard then wins.
  if (!approve && state.approved?.runId === runId && patches.discardAfterApprove) {
    return withDiscard(withState(q, { approved: null }), runId, 'Rejected at review: nothing was applied.');
  }
  if (state.held?.runId !== runId) return q;
  const held = state.held;
  if (approve) {
    return withState(q, {
      held: null,
      approved: { runId, trigger: held.trigger, dryRun: false, resumeApproved: true, coalesced: [] },
    });
  }
  return withDiscard(withState(q, { held: null }), runId, 'Rejected at review: nothing was applied.');
}

/**
 * A review decision signal. The run row says `held` a moment before its child workflow returns: a
 * decision that arrives in that window is kept and applied when the child reports the hold.
 */
export const reviewDecision = (
  q: DistrictQueue,
  decision: ReviewDecisionSignal,
  patches: Pick<QueuePatches, 'discardAfterApprove'>,
): DistrictQueue =>
  q.inFlight !== null && q.inFlight.runId === decision.runId
    ? { ...q, earlyDecision: decision }
    : decide(q, decision, patches);

/** The run to start now, if none is in flight: an approved run before anything queued. */
export function takeNext(q: DistrictQueue): { queue: DistrictQueue; next: QueuedRun | null } {
  if (q.inFlight !== null) return { queue: q, next: null };
  const { approved, queued } = q.state;
  if (approved) return { queue: withState(q, { approved: null }), next: approved };
  if (queued) return { queue: withState(q, { queued: null }), next: queued };
  return { queue: q, next: null };
}

export function districtStatus(q: DistrictQueue, schedule: DistrictSchedule): DistrictStatus {
  const { state, inFlight } = q;
  return {
    enabled: schedule.enabled,
    frequency: schedule.frequency,
    nextRunAt: state.nextDueAt === null ? null : new Date(state.nextDueAt).toISOString(),
    nextRunLocal: state.nextDueAt === null ? null : toLocalIso(state.nextDueAt, schedule.timeZone),
    inFlightRunId: inFlight?.runId ?? null,
    // A scheduled run whose row is still being created (Postgres may be away) is waiting to start.
    queued:
      state.queued !== null || state.approved !== null || (inFlight !== null && inFlight.runId === null),
    heldRunId: state.held?.runId ?? null,
    lastOutcome: state.lastOutcome,
  };
}
