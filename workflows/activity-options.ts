import {
  type ActivityInterfaceFor,
  type ActivityOptions,
  patched,
  proxyActivities,
  proxyLocalActivities,
  type RetryPolicy,
} from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from '../lib/contracts/sync';

/**
 * Timeouts and retries of the sync activities, in one place. Network and database errors retry with
 * exponential backoff (an SFTP outage of a few minutes heals by itself); data and configuration
 * failures (NON_RETRYABLE_FAILURES, by ApplicationFailure.type) fail at once: a person must act.
 */
export const RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '2 minutes',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
};

/**
 * For what must happen however long Postgres is away (creating a triggered run's row, recording how a
 * run ended): the same backoff, capped at five minutes, without a last attempt.
 */
const { maximumAttempts: _bounded, ...UNBOUNDED_RETRY } = RETRY;
export const PATIENT_RETRY: RetryPolicy = { ...UNBOUNDED_RETRY, maximumInterval: '5 minutes' };

/** Bookkeeping on the run row: quick statements. */
const BOOKKEEPING_TIMEOUT = '1 minute';

/**
 * patched() id of the move of run bookkeeping to local activities: histories recorded before it
 * schedule regular activities and keep doing so on replay.
 */
export const LOCAL_BOOKKEEPING_PATCH = 'local-bookkeeping';

/**
 * The run bookkeeping activities (createRun, startRun, finishRun) with the given retry policy, as
 * local activities: the worker runs them inside the workflow task, so they cost no task round trip
 * through the Temporal server (a third of a run's activities). Only quick statements on our own
 * database qualify; anything that talks to the outside world stays a regular activity, visible on
 * its own in the UI. Returns a chooser to call where the activity is called: a history recorded
 * before LOCAL_BOOKKEEPING_PATCH replays its regular activities.
 */
export function bookkeeping<A>(retry: RetryPolicy = RETRY): () => ActivityInterfaceFor<A> {
  const remote = proxyActivities<A>({ startToCloseTimeout: BOOKKEEPING_TIMEOUT, retry });
  const local = proxyLocalActivities<A>({ startToCloseTimeout: BOOKKEEPING_TIMEOUT, retry });
  return () => (patched(LOCAL_BOOKKEEPING_PATCH) ? local : remote);
}

/**
 * Downloading a large export can take a while; the size check after download guards partial copies.
 * fetchFile heartbeats while it copies, so a dead worker is noticed in seconds, not 30 minutes.
 */
export const FETCH: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
};

/**
 * Long, streaming database work. The engine heartbeats every few seconds (lib/temporal/heartbeat.ts), so
 * a 30 s heartbeat timeout notices a dead worker quickly and another worker resumes the run instead
 * of waiting out the whole start-to-close timeout.
 */
export const HEAVY: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
};

/**
 * Mail goes through the outbox: a retry resumes where the last attempt stopped, so it may retry
 * generously. A run creating thousands of users sends for minutes: the activity heartbeats after
 * every batch (lib/mail via activities/mail.activities.ts), so a dead worker or a hung attempt is
 * noticed within the heartbeat timeout, and the hour bounds an attempt that still makes progress.
 */
export const MAIL: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '1 minute',
  retry: RETRY,
};

/**
 * patched() id of mailing after the run's outcome is recorded, best effort: a mail activity that
 * fails for good is logged and changes nothing. Histories recorded before it mail before recording
 * success, and record a mail failure as the run's failure.
 */
export const MAIL_AFTER_OUTCOME_PATCH = 'mail-after-outcome';

/**
 * patched() id of starting runs on their own task queue (runTaskQueue): runs started before it
 * stay on the schedules queue, where the worker keeps serving them.
 */
export const RUN_TASK_QUEUE_PATCH = 'run-task-queue';
