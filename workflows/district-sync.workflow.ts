import {
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { SyncActivities } from '../activities/types';
import {
  DistrictSchedule,
  DistrictSyncInput,
  type InFlightRun,
  RUN_CHECK_SIGNAL,
  RUN_ENDED_SIGNAL,
  RunEndedSignal,
  type SyncRunResult,
  type SyncRunWorkflowInput,
  type DistrictState,
  type DistrictStatus,
  type QueuedRun,
  type RunOutcome,
} from '../lib/contracts/schedule';
import {
  FailureType,
  type FileArrivedSignal,
  type RunStatus,
  QUERIES,
  ReviewDecisionSignal,
  runTaskQueue,
  runWorkflowId,
  SIGNALS,
  SyncNowSignal,
} from '../lib/contracts/sync';
import { nextDueAfter, nextDueFor, toLocalIso } from '../lib/schedule/next-due';
import { DistrictIdKey, SyncTriggerKey } from '../lib/temporal/search-attributes';
import {
  bookkeeping,
  LOCAL_BOOKKEEPING_PATCH,
  PATIENT_RETRY,
  RUN_TASK_QUEUE_PATCH,
} from './activity-options';
import { describeFailure, parseInput, rootApplicationFailure } from './failure-info';
import { abandonedMessage } from './run-abandoned';
import { syncRunWorkflow } from './sync-run.workflow';

export const syncNowSignal = defineSignal<[SyncNowSignal]>(SIGNALS.syncNow);
export const configChangedSignal = defineSignal<[DistrictSchedule]>(SIGNALS.configChanged);
export const fileArrivedSignal = defineSignal<[FileArrivedSignal]>(SIGNALS.fileArrived);
export const reviewDecisionSignal = defineSignal<[ReviewDecisionSignal]>(SIGNALS.reviewDecision);
export const runEndedSignal = defineSignal<[RunEndedSignal]>(RUN_ENDED_SIGNAL);
export const runCheckSignal = defineSignal(RUN_CHECK_SIGNAL);
export const statusQuery = defineQuery<DistrictStatus>(QUERIES.status);

// Creating a run row only fails while Postgres is away: keep trying (capped backoff) rather than drop the trigger.
/** Asked at each call: a history recorded before the patch replays its regular activities. */
const book =
  bookkeeping<Pick<SyncActivities, 'createRun' | 'finishRun' | 'openRuns' | 'abandonRun'>>(PATIENT_RETRY);

const RECENT_RUN_IDS = 50;

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
 * A queued row this much younger than the execution may belong to a Sync Now whose signal is still
 * on its way (the API creates the row, then signals): a fresh start leaves it alone.
 */
const QUEUED_SIGNAL_GRACE_MS = 10_000;

/** Run-end reports kept for runs not (yet) in flight. */
const MAX_UNCLAIMED_ENDINGS = 10;

/** describeFailure's type of a child start refused because a workflow with its id is running. */
const CHILD_ALREADY_STARTED = 'WorkflowExecutionAlreadyStartedError';

/** How a run in flight ended, as the district workflow learnt it. */
type RunEnding =
  | { status: 'succeeded' | 'held' }
  /** The run recorded its failure itself. */
  | { status: 'failed'; failureType: string; recorded: true }
  /** It ended without recording anything (terminated, timed out, or gone while nobody watched). */
  | { status: 'failed'; failureType: string; message: string; recorded: false };

/**
 * A district's schedule as one long-lived workflow (id `district-sync:<districtId>`): durable timers
 * to the next due time, Sync Now / file arrival / config change / review decision as signals, runs
 * as child workflows one at a time. Extra triggers while a run is in flight coalesce into ONE queued
 * run. A failed run never ends this workflow: the failure is recorded as the last outcome.
 * docs/schedules.md describes the rules; docs/runbook.md how to change this code safely (patched()).
 */
export async function districtSyncWorkflow(rawInput: DistrictSyncInput): Promise<void> {
  const input = parseInput(DistrictSyncInput, rawInput, 'district sync');
  const { districtId } = input;
  let schedule = input.schedule;
  const state: DistrictState = input.state ?? {
    nextDueAt: nextDueFor(schedule, Date.now()),
    queued: null,
    approved: null,
    held: null,
    lastOutcome: null,
    recentRunIds: [],
    inFlight: null,
  };
  // Asked first, once: this execution either lets runs outlive it or keeps the old way throughout.
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
  /** `watched`: the run's child has started and this workflow only waits for its end. */
  let inFlight: { runId: string | null; dryRun: boolean; watched?: boolean } | null = null;
  let earlyDecision: ReviewDecisionSignal | null = null;
  let runsThisExecution = 0;
  /** Set by a config change: the timer in progress waits for a stale due time. */
  let rescheduled = false;
  /** Set when a run ends, so the loop looks again (continue-as-new, next queued run). */
  let runEnded = false;
  /** Run rows to close as discarded; signal handlers are synchronous, the main loop records them. */
  const discards: { runId: string; message: string }[] = [];
  /** How runs ended, as their children reported it (RunEndedSignal). */
  const endings = new Map<string, RunEndedSignal>();

  const isKnown = (runId: string): boolean =>
    runId === inFlight?.runId ||
    runId === state.queued?.runId ||
    runId === state.approved?.runId ||
    state.queued?.coalesced.includes(runId) === true ||
    state.recentRunIds.includes(runId);

  /** Puts a request in the single queued slot, merging with what is already waiting. */
  function enqueue(request: QueuedRun): void {
    if (request.runId !== null && isKnown(request.runId)) return; // a re-delivered signal
    const waiting = state.queued;
    if (!waiting) {
      state.queued = request;
      return;
    }
    // The merged run is a dry run only if every request was one: nobody asking for a real sync loses it.
    const dryRun = waiting.dryRun && request.dryRun;
    // Keep the newest request of the right kind, preferring one whose run row the API already created.
    const candidates = [request, waiting].filter((r) => r.dryRun === dryRun);
    const keep = candidates.find((r) => r.runId !== null) ?? candidates[0];
    const drop = keep === request ? waiting : request;
    state.queued = {
      ...keep,
      coalesced: [...waiting.coalesced, ...request.coalesced, ...(drop.runId !== null ? [drop.runId] : [])],
    };
  }

  // Handlers validate and drop bad payloads: a throw here would fail every workflow task from now on.
  setHandler(syncNowSignal, (raw) => {
    const parsed = SyncNowSignal.safeParse(raw);
    if (!parsed.success) {
      log.warn('Ignored an invalid syncNow signal', { error: parsed.error.message });
      return;
    }
    const signal = parsed.data;
    enqueue({
      runId: signal.runId,
      trigger: signal.trigger,
      dryRun: signal.dryRun,
      resumeApproved: false,
      coalesced: [],
    });
  });

  setHandler(fileArrivedSignal, () => {
    if (!schedule.processOnArrival) return;
    enqueue({ runId: null, trigger: 'file_arrived', dryRun: false, resumeApproved: false, coalesced: [] });
  });

  setHandler(configChangedSignal, (raw) => {
    const parsed = DistrictSchedule.safeParse(raw);
    if (!parsed.success) {
      log.warn('Ignored an invalid configChanged signal; the schedule stays as it was', {
        error: parsed.error.message,
      });
      return;
    }
    // A due time that passed without being handled (its timer fired while no worker ran, or in this
    // very moment) is handled first, under the schedule it was due by: saving the config must not
    // cancel the run that time asked for.
    if (patched(DUE_BEFORE_RESCHEDULE_PATCH) && state.nextDueAt !== null && Date.now() >= state.nextDueAt) {
      onDue(state.nextDueAt);
    }
    schedule = parsed.data;
    state.nextDueAt = nextDueFor(schedule, Date.now());
    rescheduled = true;
  });

  setHandler(reviewDecisionSignal, (raw) => {
    const parsed = ReviewDecisionSignal.safeParse(raw);
    if (!parsed.success) {
      log.warn('Ignored an invalid reviewDecision signal', { error: parsed.error.message });
      return;
    }
    const decision = parsed.data;
    // The run row says `held` a moment before its child workflow returns: keep a decision that
    // arrives in that window and apply it when the child reports the hold.
    if (inFlight !== null && inFlight.runId === decision.runId) earlyDecision = decision;
    else decide(decision);
  });

  setHandler(runEndedSignal, (raw) => {
    const parsed = RunEndedSignal.safeParse(raw);
    if (!parsed.success) {
      log.warn('Ignored an invalid runEnded signal', { error: parsed.error.message });
      return;
    }
    // Kept for the run in flight, or one about to be (a run adopted at a fresh start); a few at most,
    // so stray reports cannot grow the state.
    if (parsed.data.runId === inFlight?.runId || endings.size < MAX_UNCLAIMED_ENDINGS)
      endings.set(parsed.data.runId, parsed.data);
  });

  setHandler(statusQuery, (): DistrictStatus => ({
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
  }));

  /** Only the run actually waiting counts: a decision for a superseded or decided run changes nothing. */
  function decide({ runId, approve }: ReviewDecisionSignal): void {
    // Approved but not started yet (a run is still in flight): the run row still says held, so the
    // admin may still change their mind, and a discard then wins.
    if (!approve && state.approved?.runId === runId && patched(DISCARD_AFTER_APPROVE_PATCH)) {
      state.approved = null;
      discards.push({ runId, message: 'Rejected at review: nothing was applied.' });
      return;
    }
    if (state.held?.runId !== runId) return;
    const held = state.held;
    state.held = null;
    if (approve) {
      state.approved = { runId, trigger: held.trigger, dryRun: false, resumeApproved: true, coalesced: [] };
    } else {
      discards.push({ runId, message: 'Rejected at review: nothing was applied.' });
    }
  }

  async function recordDiscards(): Promise<void> {
    while (discards.length > 0) {
      const { runId, message } = discards[0];
      try {
        await book().finishRun({
          runId,
          status: 'discarded',
          failureType: FailureType.Discarded,
          failureMessage: message,
        });
      } catch (err) {
        // Only a run that cannot be closed gets here (no such row: a syncNow signal sent by hand).
        // It must not end the district's schedule.
        log.warn('Could not record a discarded run; it is dropped', { runId, error: (err as Error).message });
      }
      discards.shift();
    }
  }

  function finished(outcome: RunOutcome): void {
    state.lastOutcome = outcome;
  }

  /** Runs one queued run to its end as a child workflow. Never throws: the district goes on. */
  async function run(next: QueuedRun): Promise<void> {
    if (outlives) return await runOutliving(next);
    inFlight = { runId: next.runId, dryRun: next.dryRun };
    let runId = next.runId;
    try {
      if (runId === null) runId = await createRunRow(next);
      beforeChild(next, runId);
      const result = await executeChild(syncRunWorkflow, childOptions(next, runId));
      if (result.status === 'held') {
        state.held = { runId, trigger: next.trigger };
        if (earlyDecision?.runId === runId) decide(earlyDecision);
      }
      finished({ runId, status: result.status, finishedAt: new Date().toISOString() });
    } catch (err) {
      const { type, message } = describeFailure(err);
      finished({
        runId: runId ?? 'not-created',
        status: 'failed',
        failureType: type,
        finishedAt: new Date().toISOString(),
      });
      // A child that ended without its own ApplicationFailure (terminated, timed out) never recorded
      // its failure on the run row: do it here so history does not show it running forever. (A child
      // that failed records it itself, never giving up: recording it here too could land after
      // support has reset the run and mark the revived run failed.)
      if (runId !== null && !rootApplicationFailure(err)) await recordFailure(runId, type, message);
    } finally {
      earlyDecision = null;
      inFlight = null;
      runsThisExecution++;
      runEnded = true;
    }
  }

  /** Closes a run whose workflow ended without recording how: the row must not stay running. */
  async function recordFailure(runId: string, type: string, message: string): Promise<void> {
    await CancellationScope.nonCancellable(() =>
      book().finishRun({ runId, status: 'failed', failureType: type, failureMessage: message }),
    ).catch(() => undefined);
  }

  /** A scheduled or file-arrived run's row, created when its turn comes. */
  async function createRunRow(next: QueuedRun): Promise<string> {
    // The id is chosen here, so a retried createRun whose first attempt did commit finds that
    // row instead of adding a second one that would stay queued for ever.
    const { runId } = await book().createRun({
      districtId,
      trigger: next.trigger,
      dryRun: next.dryRun,
      runId: uuid4(),
    });
    inFlight!.runId = runId;
    return runId;
  }

  /**
   * What every run does just before its child starts (synchronously: the child's start command
   * comes before the discards it queues, as histories recorded it): remembers the runs it merges,
   * queues them and the held run it supersedes for closing.
   */
  function beforeChild(next: QueuedRun, runId: string): void {
    // The runs merged into this one are remembered too: a re-delivered signal for one of them is
    // not a new request.
    const merged = patched(REMEMBER_COALESCED_PATCH) ? next.coalesced : [];
    state.recentRunIds = [...state.recentRunIds, ...merged, runId].slice(-RECENT_RUN_IDS);
    for (const other of next.coalesced)
      discards.push({ runId: other, message: `Coalesced into run ${runId}.` });
    // A newer full run makes the plan waiting for review stale: it replaces it.
    if (!next.dryRun && !next.resumeApproved && state.held && state.held.runId !== runId) {
      discards.push({ runId: state.held.runId, message: `Superseded by run ${runId} before review.` });
      state.held = null;
    }
  }

  function childOptions(next: QueuedRun, runId: string) {
    return {
      workflowId: runWorkflowId(districtId, runId),
      taskQueue: patched(RUN_TASK_QUEUE_PATCH) ? runTaskQueue(workflowInfo().taskQueue) : undefined,
      args: [
        {
          districtId,
          runId,
          trigger: next.trigger,
          dryRun: next.dryRun,
          resumeApproved: next.resumeApproved,
        },
      ] as [SyncRunWorkflowInput],
      typedSearchAttributes: [
        { key: DistrictIdKey, value: districtId },
        { key: SyncTriggerKey, value: next.trigger },
      ],
    };
  }

  /**
   * RUN_OUTLIVES_EXECUTION: the child is started ABANDON (it keeps running when this execution
   * continues as new or is closed) and reports its end by signal; this execution may continue as
   * new while it waits, carrying the run in `state.inFlight`.
   */
  async function runOutliving(next: QueuedRun): Promise<void> {
    inFlight = { runId: next.runId, dryRun: next.dryRun };
    let runId = next.runId;
    let result: Promise<SyncRunResult>;
    try {
      if (runId === null) runId = await createRunRow(next);
      beforeChild(next, runId);
      const options = childOptions(next, runId);
      options.args[0].notifyDistrict = true;
      const child = await startChild(syncRunWorkflow, {
        ...options,
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      result = child.result();
    } catch (err) {
      const { type, message } = describeFailure(err);
      // A workflow of that id runs already (e.g. started before a lost execution recorded it): that
      // is this run, in flight; wait for its end as for an adopted run.
      if (runId !== null && type === CHILD_ALREADY_STARTED) {
        await untilEnded({ runId, trigger: next.trigger, dryRun: next.dryRun, earlyDecision: null });
        return;
      }
      // Otherwise the child could not start: nothing ran.
      if (runId !== null && !rootApplicationFailure(err)) await recordFailure(runId, type, message);
      settle(runId ?? 'not-created', { status: 'failed', failureType: type, recorded: true }, next.trigger);
      return;
    }
    await untilEnded({ runId, trigger: next.trigger, dryRun: next.dryRun, earlyDecision: null }, result);
  }

  /**
   * Waits for the end of the run in flight: its child's signal, or its result when this execution
   * started it. A run carried over (continued as new, or adopted after a restart) is checked every
   * runCheckIntervalMs: a child gone without a word (terminated) is closed here.
   */
  async function untilEnded(run: InFlightRun, result?: Promise<SyncRunResult>): Promise<void> {
    inFlight = { runId: run.runId, dryRun: run.dryRun, watched: true };
    state.inFlight = run;
    let ending: RunEnding | undefined;
    result?.then(
      (r) => (ending ??= { status: r.status }),
      (err: unknown) => {
        const { type, message } = describeFailure(err);
        ending ??= rootApplicationFailure(err)
          ? { status: 'failed', failureType: type, recorded: true }
          : { status: 'failed', failureType: type, message, recorded: false };
      },
    );
    const reported = (): RunEnding | undefined => {
      const signal = endings.get(run.runId);
      if (!signal) return undefined;
      return signal.status === 'failed'
        ? { status: 'failed', failureType: signal.failureType ?? FailureType.RunAbandoned, recorded: true }
        : { status: signal.status };
    };
    while (ending === undefined) {
      const over = (): boolean => ending !== undefined || endings.has(run.runId);
      // Its own child reports its result here; only a run carried over needs looking at.
      const woke =
        result !== undefined ? await condition(over) : await condition(over, input.runCheckIntervalMs);
      ending ??= reported();
      if (ending !== undefined || woke || result !== undefined) continue;
      if (!(await stillRunning(runWorkflowId(districtId, run.runId)))) {
        ending = reported() ?? {
          status: 'failed',
          failureType: FailureType.RunAbandoned,
          message: abandonedMessage('run-gone'),
          recorded: false,
        };
      }
    }
    if (inFlight) inFlight.watched = false; // recording the end must finish before any continue-as-new
    if (ending.status === 'failed' && !ending.recorded)
      await recordFailure(run.runId, ending.failureType, ending.message);
    settle(run.runId, ending, run.trigger);
  }

  /** Bookkeeping once a run (of either kind) is over: outcome, held run, and the loop looks again. */
  function settle(runId: string, ending: RunEnding, trigger: QueuedRun['trigger']): void {
    if (ending.status === 'held') {
      state.held = { runId, trigger };
      if (earlyDecision?.runId === runId) decide(earlyDecision);
    }
    finished({
      runId,
      status: ending.status,
      ...(ending.status === 'failed' ? { failureType: ending.failureType } : {}),
      finishedAt: new Date().toISOString(),
    });
    endings.clear();
    earlyDecision = null;
    state.inFlight = null;
    inFlight = null;
    runsThisExecution++;
    runEnded = true;
  }

  /** Whether a workflow runs: signalling one that is closed (or never was) fails. */
  async function stillRunning(workflowId: string): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(workflowId).signal(runCheckSignal);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A fresh start (no carried state: first start, or after the last execution was terminated or
   * timed out) settles what Postgres still shows open: a running run whose workflow still runs is
   * waited for, one whose workflow is gone is closed RunAbandoned (its staging dropped), as is a
   * queued run nobody will start; the newest held run waits for review again.
   */
  async function recoverOpenRuns(): Promise<void> {
    const open = await book().openRuns({ districtId, queuedBefore: Date.now() - QUEUED_SIGNAL_GRACE_MS });
    /** Runs recovery adopted or closed: a request for one of them waiting here is not a new run. */
    const settled = new Set<string>();
    /** Closes it only while still running or queued: a run held or ended since openRuns read it keeps that. */
    const abandon = async (runId: string, message: string): Promise<RunStatus | null> => {
      settled.add(runId);
      state.recentRunIds = [...state.recentRunIds, runId].slice(-RECENT_RUN_IDS);
      const { status } = await book().abandonRun({
        runId,
        failureType: FailureType.RunAbandoned,
        failureMessage: message,
      });
      return status;
    };
    for (const running of open.running) {
      // A run that reported its end meanwhile is adopted too: its ending settles it at once.
      const adopt =
        inFlight === null &&
        running.workflowId !== null &&
        (endings.has(running.runId) || (await stillRunning(running.workflowId)));
      if (adopt) {
        settled.add(running.runId);
        state.recentRunIds = [...state.recentRunIds, running.runId].slice(-RECENT_RUN_IDS);
        void untilEnded({
          runId: running.runId,
          trigger: running.trigger,
          dryRun: running.dryRun,
          earlyDecision: null,
        });
      } else {
        const status =
          endings.get(running.runId)?.status ?? (await abandon(running.runId, abandonedMessage('running')));
        // Held between openRuns and now: it waits for review as a held run found open does.
        if (status === 'held' && state.held === null)
          state.held = { runId: running.runId, trigger: running.trigger };
      }
    }
    for (const runId of open.queued) {
      if (!isKnown(runId)) await abandon(runId, abandonedMessage('queued'));
    }
    if (open.held !== null && state.held === null && !isKnown(open.held.runId)) state.held = open.held;
    dropSettledRequests(settled);
  }

  /** A re-delivered Sync Now that arrived during recovery for a run recovery settled must not run it again. */
  function dropSettledRequests(settled: ReadonlySet<string>): void {
    if (state.approved !== null && settled.has(state.approved.runId ?? '')) state.approved = null;
    const queued = state.queued;
    if (queued === null) return;
    const coalesced = queued.coalesced.filter((id) => !settled.has(id));
    if (queued.runId === null || !settled.has(queued.runId)) state.queued = { ...queued, coalesced };
    // The runs merged into it still wait for a run: the newest of them takes its place.
    else if (coalesced.length > 0)
      state.queued = { ...queued, runId: coalesced.at(-1)!, coalesced: coalesced.slice(0, -1) };
    else state.queued = null;
  }

  /** Continuing as new is safe between runs, and (RUN_OUTLIVES_EXECUTION) while one is only watched. */
  // Not while the run's ending is stored but not yet recorded: endings are not carried over.
  const mayContinueAsNew = (): boolean =>
    inFlight === null || (outlives && inFlight.watched === true && !endings.has(inFlight.runId ?? ''));

  function shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      (input.maxHistoryEvents !== undefined && info.historyLength >= input.maxHistoryEvents) ||
      (input.maxRunsPerExecution !== undefined && runsThisExecution >= input.maxRunsPerExecution)
    );
  }

  /** The timer fired (or fired late because no worker was up): queue a scheduled or catch-up run. */
  function onDue(due: number): void {
    const now = Date.now();
    // Only the next slot after now: however many slots were missed, at most one catch-up run.
    state.nextDueAt = nextDueFor(schedule, now);
    if (now - due <= input.catchUpGraceMs) {
      enqueue({ runId: null, trigger: 'schedule', dryRun: false, resumeApproved: false, coalesced: [] });
      return;
    }
    // Missed while no worker ran: catch up once if the latest missed slot is still within the window.
    const windowStart = Math.max(due - 1, now - input.catchUpWindowHours * 3_600_000);
    const missed = nextDueAfter(schedule, windowStart);
    if (missed !== null && missed <= now) {
      enqueue({ runId: null, trigger: 'catch_up', dryRun: false, resumeApproved: false, coalesced: [] });
    }
  }

  if (outlives) {
    if (state.inFlight !== null) {
      earlyDecision = state.inFlight.earlyDecision;
      void untilEnded(state.inFlight);
    } else if (input.state === undefined) await recoverOpenRuns();
  }

  for (;;) {
    await recordDiscards();
    // Between runs, or while the run in flight only needs its end reported, this workflow may start
    // afresh: no child is orphaned (runs outlive it), state is plain data.
    if (mayContinueAsNew() && shouldContinueAsNew()) {
      if (state.inFlight !== null && earlyDecision !== null) state.inFlight.earlyDecision = earlyDecision;
      await continueAsNew<typeof districtSyncWorkflow>({ ...input, schedule, state });
    }
    if (inFlight === null) {
      const next = state.approved ?? state.queued;
      if (next) {
        if (next === state.approved) state.approved = null;
        else state.queued = null;
        void run(next);
        continue;
      }
    }
    const due = state.nextDueAt;
    const attention = (): boolean =>
      rescheduled ||
      runEnded ||
      discards.length > 0 ||
      (inFlight === null && (state.queued !== null || state.approved !== null)) ||
      (outlives && mayContinueAsNew() && shouldContinueAsNew());
    if (due === null) await condition(attention);
    else await condition(attention, Math.max(1, due - Date.now()));
    rescheduled = false;
    runEnded = false;
    if (state.nextDueAt !== null && Date.now() >= state.nextDueAt) onDue(state.nextDueAt);
  }
}
