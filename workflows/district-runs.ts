import {
  CancellationScope,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  patched,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { SyncActivities } from '../activities/types';
import {
  type DistrictSchedule,
  type InFlightRun,
  type QueuedRun,
  RUN_CHECK_SIGNAL,
  type SyncRunResult,
  type SyncRunWorkflowInput,
} from '../lib/contracts/schedule';
import { FailureType, type RunStatus, runTaskQueue, runWorkflowId } from '../lib/contracts/sync';
import { DistrictIdKey, SyncTriggerKey } from '../lib/temporal/search-attributes';
import { bookkeeping, PATIENT_RETRY, RUN_TASK_QUEUE_PATCH } from './activity-options';
import * as queue from './district-queue';
import * as inFlight from './run-in-flight';
import { describeFailure, rootApplicationFailure } from './failure-info';
import { abandonedMessage } from './run-abandoned';
import { syncRunWorkflow } from './sync-run.workflow';

/**
 * The side of the district workflow that touches the world: run rows (bookkeeping activities), run
 * children, and the recovery of runs a lost execution left open. The queue's rules are in
 * district-queue.ts; this class applies them to the one DistrictQueue the workflow's signal handlers
 * also update (`q`, always replaced, never changed in place).
 */

// Creating a run row only fails while Postgres is away: keep trying (capped backoff) rather than drop the trigger.
/** Asked at each call: a history recorded before the patch replays its regular activities. */
const book =
  bookkeeping<Pick<SyncActivities, 'createRun' | 'finishRun' | 'openRuns' | 'abandonRun'>>(PATIENT_RETRY);

/**
 * A queued row this much younger than the execution may belong to a Sync Now whose signal is still
 * on its way (the API creates the row, then signals): a fresh start leaves it alone.
 */
const QUEUED_SIGNAL_GRACE_MS = 10_000;

/** describeFailure's type of a child start refused because a workflow with its id is running. */
const CHILD_ALREADY_STARTED = 'WorkflowExecutionAlreadyStartedError';

export class DistrictRuns {
  readonly districtId: string;

  constructor(
    private readonly input: { districtId: string; runCheckIntervalMs: number },
    public q: queue.DistrictQueue,
    public schedule: DistrictSchedule,
    readonly patches: queue.QueuePatches,
  ) {
    this.districtId = input.districtId;
  }

  /** Closes the run rows the queue gave up (coalesced, superseded, rejected), oldest first. */
  async recordDiscards(): Promise<void> {
    while (this.q.discards.length > 0) {
      const { runId, message } = this.q.discards[0];
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
      this.q = inFlight.discardDone(this.q);
    }
  }

  /** Runs one queued run to its end as a child workflow. Never throws: the district goes on. */
  async run(next: QueuedRun): Promise<void> {
    if (this.patches.outlives) return await this.runOutliving(next);
    this.q = inFlight.runStarting(this.q, next);
    let runId = next.runId;
    try {
      if (runId === null) runId = await this.createRunRow(next);
      this.beforeChild(next, runId);
      const result = await executeChild(syncRunWorkflow, this.childOptions(next, runId));
      this.q = inFlight.runEnded(this.q, runId, { status: result.status }, next.trigger, now(), this.patches);
    } catch (err) {
      const { type, message } = describeFailure(err);
      const ending = { status: 'failed', failureType: type, recorded: true } as const;
      this.q = inFlight.runEnded(this.q, runId ?? 'not-created', ending, next.trigger, now(), this.patches);
      // A child that ended without its own ApplicationFailure (terminated, timed out) never recorded
      // its failure on the run row: do it here so history does not show it running forever. (A child
      // that failed records it itself, never giving up: recording it here too could land after
      // support has reset the run and mark the revived run failed.)
      if (runId !== null && !rootApplicationFailure(err)) await this.recordFailure(runId, type, message);
    } finally {
      this.q = inFlight.runOver(this.q);
    }
  }

  /** Closes a run whose workflow ended without recording how: the row must not stay running. */
  private async recordFailure(runId: string, type: string, message: string): Promise<void> {
    await CancellationScope.nonCancellable(() =>
      book().finishRun({ runId, status: 'failed', failureType: type, failureMessage: message }),
    ).catch(() => undefined);
  }

  /** A scheduled or file-arrived run's row, created when its turn comes. */
  private async createRunRow(next: QueuedRun): Promise<string> {
    // The id is chosen here, so a retried createRun whose first attempt did commit finds that
    // row instead of adding a second one that would stay queued for ever.
    const { runId } = await book().createRun({
      districtId: this.districtId,
      trigger: next.trigger,
      dryRun: next.dryRun,
      runId: uuid4(),
    });
    this.q = inFlight.runRowCreated(this.q, runId);
    return runId;
  }

  /**
   * Synchronously, just before the child starts: the child's start command comes before the
   * discards it queues, as histories recorded it.
   */
  private beforeChild(next: QueuedRun, runId: string): void {
    this.q = inFlight.beforeChild(this.q, next, runId, this.patches);
  }

  private childOptions(next: QueuedRun, runId: string) {
    const { districtId } = this;
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
  private async runOutliving(next: QueuedRun): Promise<void> {
    this.q = inFlight.runStarting(this.q, next);
    let runId = next.runId;
    let result: Promise<SyncRunResult>;
    try {
      if (runId === null) runId = await this.createRunRow(next);
      this.beforeChild(next, runId);
      const options = this.childOptions(next, runId);
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
        await this.untilEnded({ runId, trigger: next.trigger, dryRun: next.dryRun, earlyDecision: null });
        return;
      }
      // Otherwise the child could not start: nothing ran.
      if (runId !== null && !rootApplicationFailure(err)) await this.recordFailure(runId, type, message);
      this.settle(
        runId ?? 'not-created',
        { status: 'failed', failureType: type, recorded: true },
        next.trigger,
      );
      return;
    }
    await this.untilEnded({ runId, trigger: next.trigger, dryRun: next.dryRun, earlyDecision: null }, result);
  }

  /**
   * Waits for the end of the run in flight: its child's signal, or its result when this execution
   * started it. A run carried over (continued as new, or adopted after a restart) is checked every
   * runCheckIntervalMs: a child gone without a word (terminated) is closed here.
   */
  async untilEnded(run: InFlightRun, result?: Promise<SyncRunResult>): Promise<void> {
    this.q = inFlight.watching(this.q, run);
    let ending: inFlight.RunEnding | undefined;
    result?.then(
      (r) => (ending ??= { status: r.status }),
      (err: unknown) => {
        const { type, message } = describeFailure(err);
        ending ??= rootApplicationFailure(err)
          ? { status: 'failed', failureType: type, recorded: true }
          : { status: 'failed', failureType: type, message, recorded: false };
      },
    );
    while (ending === undefined) {
      const over = (): boolean => ending !== undefined || this.q.endings.has(run.runId);
      // Its own child reports its result here; only a run carried over needs looking at.
      const woke =
        result !== undefined ? await condition(over) : await condition(over, this.input.runCheckIntervalMs);
      ending ??= inFlight.reportedEnding(this.q, run.runId);
      if (ending !== undefined || woke || result !== undefined) continue;
      if (!(await stillRunning(runWorkflowId(this.districtId, run.runId)))) {
        ending = inFlight.reportedEnding(this.q, run.runId) ?? {
          status: 'failed',
          failureType: FailureType.RunAbandoned,
          message: abandonedMessage('run-gone'),
          recorded: false,
        };
      }
    }
    this.q = inFlight.endBeingRecorded(this.q); // recording the end must finish before any continue-as-new
    if (ending.status === 'failed' && !ending.recorded)
      await this.recordFailure(run.runId, ending.failureType, ending.message);
    this.settle(run.runId, ending, run.trigger);
  }

  /** Bookkeeping once a run (of either kind) is over: outcome, held run, and the loop looks again. */
  private settle(runId: string, ending: inFlight.RunEnding, trigger: QueuedRun['trigger']): void {
    this.q = inFlight.runOver(inFlight.runEnded(this.q, runId, ending, trigger, now(), this.patches));
  }

  /**
   * A fresh start (no carried state: first start, or after the last execution was terminated or
   * timed out) settles what Postgres still shows open: a running run whose workflow still runs is
   * waited for, one whose workflow is gone is closed RunAbandoned (its staging dropped), as is a
   * queued run nobody will start; the newest held run waits for review again.
   */
  async recoverOpenRuns(): Promise<void> {
    const open = await book().openRuns({
      districtId: this.districtId,
      queuedBefore: Date.now() - QUEUED_SIGNAL_GRACE_MS,
    });
    /** Runs recovery adopted or closed: a request for one of them waiting here is not a new run. */
    const settled = new Set<string>();
    /** Closes it only while still running or queued: a run held or ended since openRuns read it keeps that. */
    const abandon = async (runId: string, message: string): Promise<RunStatus | null> => {
      settled.add(runId);
      this.q = queue.remember(this.q, runId);
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
        this.q.inFlight === null &&
        running.workflowId !== null &&
        (this.q.endings.has(running.runId) || (await stillRunning(running.workflowId)));
      if (adopt) {
        settled.add(running.runId);
        this.q = queue.remember(this.q, running.runId);
        void this.untilEnded({
          runId: running.runId,
          trigger: running.trigger,
          dryRun: running.dryRun,
          earlyDecision: null,
        });
      } else {
        const status =
          this.q.endings.get(running.runId)?.status ??
          (await abandon(running.runId, abandonedMessage('running')));
        // Held between openRuns and now: it waits for review as a held run found open does.
        if (status === 'held')
          this.q = inFlight.holdIfNone(this.q, { runId: running.runId, trigger: running.trigger });
      }
    }
    for (const runId of open.queued) {
      if (!queue.isKnown(this.q, runId)) await abandon(runId, abandonedMessage('queued'));
    }
    if (open.held !== null && !queue.isKnown(this.q, open.held.runId))
      this.q = inFlight.holdIfNone(this.q, open.held);
    this.q = inFlight.dropSettledRequests(this.q, settled);
  }
}

const now = (): string => new Date().toISOString();

/** Whether a workflow runs: signalling one that is closed (or never was) fails. */
async function stillRunning(workflowId: string): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(workflowId).signal(RUN_CHECK_SIGNAL);
    return true;
  } catch {
    return false;
  }
}
