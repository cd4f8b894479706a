import {
  ApplicationFailure,
  CancellationScope,
  defineSignal,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import type { SyncActivities } from '../activities/types';
import {
  RUN_CHECK_SIGNAL,
  RUN_ENDED_SIGNAL,
  type RunEndedSignal,
  SyncRunWorkflowInput,
  type SyncRunResult,
} from '../lib/contracts/schedule';
import { districtWorkflowId, FailureType } from '../lib/contracts/sync';
import { evaluateSafeguards } from '../lib/sync/safeguards';
import { bookkeeping, FETCH, HEAVY, MAIL, MAIL_AFTER_OUTCOME_PATCH, PATIENT_RETRY } from './activity-options';
import { describeFailure, parseInput } from './failure-info';

const runBook = bookkeeping<Pick<SyncActivities, 'startRun' | 'finishRun'>>();
/**
 * Recording a failure never gives up: a run row left "running" would block every later run of the
 * district (one running run per district). A retry policy is not part of what a replay checks.
 */
const failureBook = bookkeeping<Pick<SyncActivities, 'finishRun'>>(PATIENT_RETRY);
const fetch = proxyActivities<Pick<SyncActivities, 'fetchFile'>>(FETCH);
const heavy = proxyActivities<Pick<SyncActivities, 'stageFile' | 'planChanges' | 'applyChanges'>>(HEAVY);
const mail = proxyActivities<Pick<SyncActivities, 'sendWelcomeEmails' | 'notifyAdmins'>>(MAIL);

type RunInput = z.output<typeof SyncRunWorkflowInput>;

/** patched() id of telling the district workflow how the run ended (RUN_ENDED_SIGNAL). */
const NOTIFY_DISTRICT_PATCH = 'notify-district';

/** The district workflow asks whether this run still runs; receiving it is the answer. */
const runCheckSignal = defineSignal(RUN_CHECK_SIGNAL);

/**
 * Tells the district workflow (by its stable id: it may have continued as new since it started this
 * run) how the run ended; districtId null: it was not asked to (started by an older district
 * workflow, which awaits its result). Best effort: a district workflow that is gone learns it from
 * the run row when it starts again.
 */
async function tellDistrict(districtId: string | null, ended: RunEndedSignal): Promise<void> {
  if (districtId === null) return;
  try {
    await getExternalWorkflowHandle(districtWorkflowId(districtId)).signal(RUN_ENDED_SIGNAL, ended);
  } catch (err) {
    log.warn(`Run ${ended.runId} could not tell its district workflow that it ended`, {
      runId: ended.runId,
      error: describeFailure(err).message,
    });
  }
}

/**
 * Sends a run's mail once its outcome is recorded, best effort: the mail activity retries by itself
 * (an SMTP outage), and if it still fails for good (or the workflow is cancelled meanwhile) the run
 * keeps the outcome it recorded. The failure is logged with the run id and stays in the run's
 * history (ActivityTaskFailed); the mails not sent stay in mail_outbox (docs/runbook.md, Mail).
 */
async function mailBestEffort(runId: string, send: keyof typeof mail): Promise<void> {
  try {
    await mail[send]({ runId });
  } catch (err) {
    log.warn(`Mail of run ${runId} failed for good (${send}); the run keeps its outcome`, {
      runId,
      activity: send,
      error: describeFailure(err).message,
    });
  }
}

/** Admins are told of an outcome already recorded: best effort since MAIL_AFTER_OUTCOME_PATCH. */
async function notifyAdminsOfOutcome(runId: string): Promise<void> {
  if (patched(MAIL_AFTER_OUTCOME_PATCH)) await mailBestEffort(runId, 'notifyAdmins');
  else await mail.notifyAdmins({ runId });
}

/**
 * One sync run, as a child of the district workflow (id `sync-run:<districtId>:<runId>`).
 *
 * Held runs: when a safeguard asks for review, the run is recorded `held` (its staged rows and plan
 * stay in Postgres) and this workflow COMPLETES. The district workflow remembers the held run; on
 * approval it starts this workflow again with `resumeApproved`, which applies the stored plan. A held
 * run therefore never blocks the district's one-run-at-a-time slot for days, and a newer full run
 * supersedes it (docs/schedules.md).
 *
 * Mail comes after the outcome is recorded and never changes it: new users are welcomed and admins
 * told once the run row says succeeded (or held, or failed), and a mail that cannot be sent is logged
 * (mailBestEffort), not a failure of the run.
 *
 * Any failure: the run row gets failed + type + message, admins are told, and the workflow fails
 * with a non-retryable ApplicationFailure of the same type so the Temporal UI shows the cause. The
 * exception is a reset or replay of a run that already ended: startRun refuses it (RunFinished), and
 * the workflow fails with that type leaving the run row and the admins alone.
 */
export async function syncRunWorkflow(rawInput: SyncRunWorkflowInput): Promise<SyncRunResult> {
  const input = parseInput(SyncRunWorkflowInput, rawInput, 'sync run');
  setHandler(runCheckSignal, () => undefined);
  // Asked first, before any local activity (a patch first asked right after one can replay differently).
  const notify = input.notifyDistrict && patched(NOTIFY_DISTRICT_PATCH) ? input.districtId : null;
  if (notify !== null) patched(MAIL_AFTER_OUTCOME_PATCH); // a run started this way has it too
  try {
    const result = await runToEnd(input);
    await tellDistrict(notify, { runId: input.runId, status: result.status });
    return result;
  } catch (err) {
    const ended: RunEndedSignal = {
      runId: input.runId,
      status: 'failed',
      failureType: describeFailure(err).type,
    };
    await CancellationScope.nonCancellable(() => tellDistrict(notify, ended));
    throw err;
  }
}

/** The run itself, from start to its recorded outcome. */
async function runToEnd(input: RunInput): Promise<SyncRunResult> {
  const { runId } = input;
  const book = runBook();
  const failures = failureBook();
  try {
    const { safeguards } = await book.startRun({ runId, workflowId: workflowInfo().workflowId });
    if (!input.resumeApproved) {
      await fetch.fetchFile({ runId });
      const stage = await heavy.stageFile({ runId });
      if (stage.fatal) {
        throw ApplicationFailure.nonRetryable(stage.fatal.message, stage.fatal.type);
      }
      const plan = await heavy.planChanges({ runId });
      const verdict = evaluateSafeguards(stage, plan, safeguards);
      if (verdict.decision === 'fail') {
        throw ApplicationFailure.nonRetryable(verdict.message, verdict.type);
      }
      if (input.dryRun) {
        // A preview: counts are on the run row; nothing is applied and nobody gets a welcome mail.
        const note =
          verdict.decision === 'hold'
            ? `Dry run. A real run would be held: ${verdict.reasons.join('; ')}`
            : undefined;
        await book.finishRun({ runId, status: 'succeeded', failureMessage: note });
        return { runId, status: 'succeeded', applied: false };
      }
      if (verdict.decision === 'hold') {
        await book.finishRun({ runId, status: 'held', failureMessage: verdict.reasons.join('; ') });
        await notifyAdminsOfOutcome(runId);
        return { runId, status: 'held', applied: false };
      }
    }
    const applied = await heavy.applyChanges({ runId });
    if (patched(MAIL_AFTER_OUTCOME_PATCH)) {
      await book.finishRun({ runId, status: 'succeeded' });
      await mailBestEffort(runId, 'sendWelcomeEmails');
      await mailBestEffort(runId, 'notifyAdmins');
    } else {
      await mail.sendWelcomeEmails({ runId });
      await mail.notifyAdmins({ runId });
      await book.finishRun({ runId, status: 'succeeded' });
    }
    return { runId, status: 'succeeded', applied: applied.applied };
  } catch (err) {
    const { type, message } = describeFailure(err);
    // A run that already ended (a reset or replay of a finished run, refused by startRun) keeps its
    // record, and its admins were told when it ended: nothing to record, nobody to tell.
    // No recorded history holds RunFinished, so this branch replays every history as before.
    if (type !== FailureType.RunFinished) {
      // Record the failure even if this workflow is being cancelled: the run row must not stay "running".
      await CancellationScope.nonCancellable(async () => {
        await failures.finishRun({
          runId,
          status: 'failed',
          failureType: type,
          failureMessage: message,
        });
        await notifyAdminsOfOutcome(runId);
      });
    }
    throw ApplicationFailure.create({
      message,
      type,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }
}
