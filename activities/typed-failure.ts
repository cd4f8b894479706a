import { ApplicationFailure } from '@temporalio/common';
import { DomainError } from '../lib/errors/domain-error';
import { currentActivity } from '../lib/temporal/activity-context';

/**
 * The one place a domain error becomes the typed failure a workflow sees: same type, same message,
 * non-retryable as the error says. Its support detail goes to the worker's log (with `logFields`),
 * never into the failure. Anything else passes unchanged: Temporal retries it with backoff.
 */
export function typedFailure(err: unknown, logFields: Record<string, string> = {}): unknown {
  if (!(err instanceof DomainError)) return err;
  if (err.detail) currentActivity()?.log.warn(err.message, { ...err.detail, ...logFields });
  const failure = ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: err.nonRetryable,
  });
  // Where lib/ threw it, for support reading the failure in the Temporal UI.
  if (err.stack) failure.stack = err.stack;
  return failure;
}

/** Runs an activity's work, its domain errors turned into typed failures. */
export async function withTypedFailures<T>(
  work: () => Promise<T>,
  logFields?: Record<string, string>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw typedFailure(err, logFields);
  }
}
