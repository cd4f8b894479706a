import type {
  DistrictState,
  InFlightRun,
  QueuedRun,
  RunEndedSignal,
  RunOutcome,
} from '../lib/contracts/schedule';
import { FailureType } from '../lib/contracts/sync';
import {
  type DistrictQueue,
  type QueuePatches,
  decide,
  remember,
  withDiscard,
  withState,
} from './district-queue';

/**
 * The district queue's run in flight (pure, like district-queue.ts): its start, how its end is
 * learnt and settled, what a fresh start does with runs a lost execution left open, and when the
 * workflow may continue as new.
 */

/** Run-end reports kept for runs not (yet) in flight. */
const MAX_UNCLAIMED_ENDINGS = 10;

/** How a run in flight ended, as the district workflow learnt it. */
export type RunEnding =
  | { status: 'succeeded' | 'held' }
  /** The run recorded its failure itself. */
  | { status: 'failed'; failureType: string; recorded: true }
  /** It ended without recording anything (terminated, timed out, or gone while nobody watched). */
  | { status: 'failed'; failureType: string; message: string; recorded: false };

/** When an execution has grown enough to continue as new. */
export interface ExecutionLimits {
  maxHistoryEvents?: number;
  maxRunsPerExecution?: number;
}
export interface HistorySize {
  continueAsNewSuggested: boolean;
  historyLength: number;
}

/** A child's report of its end: kept for the run in flight, or a few for runs about to be (adopted at a fresh start). */
export function endingReported(q: DistrictQueue, signal: RunEndedSignal): DistrictQueue {
  if (signal.runId !== q.inFlight?.runId && q.endings.size >= MAX_UNCLAIMED_ENDINGS) return q;
  return { ...q, endings: new Map(q.endings).set(signal.runId, signal) };
}

/** The ending a run's child reported, if it did. */
export function reportedEnding(q: DistrictQueue, runId: string): RunEnding | undefined {
  const signal = q.endings.get(runId);
  if (!signal) return undefined;
  return signal.status === 'failed'
    ? { status: 'failed', failureType: signal.failureType ?? FailureType.RunAbandoned, recorded: true }
    : { status: signal.status };
}

export const runStarting = (q: DistrictQueue, next: QueuedRun): DistrictQueue => ({
  ...q,
  inFlight: { runId: next.runId, dryRun: next.dryRun },
});

/** A scheduled or file-arrived run's row exists now. */
export const runRowCreated = (q: DistrictQueue, runId: string): DistrictQueue => ({
  ...q,
  inFlight: { ...q.inFlight!, runId },
});

/**
 * What every run does just before its child starts: remembers the runs it merges, queues them and
 * the held run it supersedes for closing.
 */
export function beforeChild(
  q: DistrictQueue,
  next: QueuedRun,
  runId: string,
  patches: Pick<QueuePatches, 'rememberCoalesced'>,
): DistrictQueue {
  // The runs merged into this one are remembered too: a re-delivered signal for one of them is
  // not a new request.
  const merged = patches.rememberCoalesced ? next.coalesced : [];
  let after = remember(q, ...merged, runId);
  for (const other of next.coalesced) after = withDiscard(after, other, `Coalesced into run ${runId}.`);
  // A newer full run makes the plan waiting for review stale: it replaces it.
  const held = after.state.held;
  if (!next.dryRun && !next.resumeApproved && held && held.runId !== runId) {
    after = withState(withDiscard(after, held.runId, `Superseded by run ${runId} before review.`), {
      held: null,
    });
  }
  return after;
}

/** The run in flight is one whose child runs: only its end is awaited, and it is carried over. */
export const watching = (q: DistrictQueue, run: InFlightRun): DistrictQueue => ({
  ...withState(q, { inFlight: run }),
  inFlight: { runId: run.runId, dryRun: run.dryRun, watched: true },
});

/** Its end is known and being recorded: no continue-as-new until that is done. */
export const endBeingRecorded = (q: DistrictQueue): DistrictQueue =>
  q.inFlight ? { ...q, inFlight: { ...q.inFlight, watched: false } } : q;

/** A run's child ended: its outcome, and the hold (with a review decision that came early). */
export function runEnded(
  q: DistrictQueue,
  runId: string,
  ending: RunEnding,
  trigger: QueuedRun['trigger'],
  finishedAt: string,
  patches: Pick<QueuePatches, 'discardAfterApprove'>,
): DistrictQueue {
  let after = q;
  if (ending.status === 'held') {
    after = withState(after, { held: { runId, trigger } });
    if (after.earlyDecision?.runId === runId) after = decide(after, after.earlyDecision, patches);
  }
  const outcome: RunOutcome = {
    runId,
    status: ending.status,
    ...(ending.status === 'failed' ? { failureType: ending.failureType } : {}),
    finishedAt,
  };
  return withState(after, { lastOutcome: outcome });
}

/** Nothing is in flight any more: the run counts, and the loop looks again (continue-as-new, next run). */
export const runOver = (q: DistrictQueue): DistrictQueue => ({
  ...withState(q, { inFlight: null }),
  endings: new Map(),
  earlyDecision: null,
  inFlight: null,
  runsThisExecution: q.runsThisExecution + 1,
  lookAgain: true,
});

/** A run found held at a fresh start waits for review, unless another already does. */
export const holdIfNone = (q: DistrictQueue, held: NonNullable<DistrictState['held']>): DistrictQueue =>
  q.state.held === null ? withState(q, { held }) : q;

/** A re-delivered Sync Now that arrived during recovery for a run recovery settled must not run it again. */
export function dropSettledRequests(q: DistrictQueue, settled: ReadonlySet<string>): DistrictQueue {
  let after = q;
  if (after.state.approved !== null && settled.has(after.state.approved.runId ?? ''))
    after = withState(after, { approved: null });
  const queued = after.state.queued;
  if (queued === null) return after;
  const coalesced = queued.coalesced.filter((id) => !settled.has(id));
  if (queued.runId === null || !settled.has(queued.runId))
    return withState(after, { queued: { ...queued, coalesced } });
  // The runs merged into it still wait for a run: the newest of them takes its place.
  if (coalesced.length > 0)
    return withState(after, {
      queued: { ...queued, runId: coalesced.at(-1)!, coalesced: coalesced.slice(0, -1) },
    });
  return withState(after, { queued: null });
}

/** The oldest discard is recorded (or dropped). */
export const discardDone = (q: DistrictQueue): DistrictQueue => ({ ...q, discards: q.discards.slice(1) });

/** Continuing as new is safe between runs, and (RUN_OUTLIVES_EXECUTION) while one is only watched. */
// Not while the run's ending is stored but not yet recorded: endings are not carried over.
export const mayContinueAsNew = (q: DistrictQueue, outlives: boolean): boolean =>
  q.inFlight === null || (outlives && q.inFlight.watched === true && !q.endings.has(q.inFlight.runId ?? ''));

export const historyFull = (q: DistrictQueue, size: HistorySize, limits: ExecutionLimits): boolean =>
  size.continueAsNewSuggested ||
  (limits.maxHistoryEvents !== undefined && size.historyLength >= limits.maxHistoryEvents) ||
  (limits.maxRunsPerExecution !== undefined && q.runsThisExecution >= limits.maxRunsPerExecution);

/** A run carried over from the last execution: a review decision that came early comes with it. */
export const carriedOver = (q: DistrictQueue, run: InFlightRun): DistrictQueue => ({
  ...q,
  earlyDecision: run.earlyDecision,
});

/** The state the next execution starts from; a review decision that came early goes with its run. */
export function carriedState(q: DistrictQueue): DistrictState {
  const { state, earlyDecision } = q;
  if (state.inFlight !== null && earlyDecision !== null)
    return { ...state, inFlight: { ...state.inFlight, earlyDecision } };
  return state;
}

/** Whether the loop must wake before the next due time. */
export const needsAttention = (
  q: DistrictQueue,
  outlives: boolean,
  size: () => HistorySize,
  limits: ExecutionLimits,
): boolean =>
  q.lookAgain ||
  q.discards.length > 0 ||
  (q.inFlight === null && (q.state.queued !== null || q.state.approved !== null)) ||
  (outlives && mayContinueAsNew(q, outlives) && historyFull(q, size(), limits));

export const lookedAgain = (q: DistrictQueue): DistrictQueue => ({ ...q, lookAgain: false });
