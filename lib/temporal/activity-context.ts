import { Context } from '@temporalio/activity';

/**
 * The running activity's context, or undefined outside one (tests, benchmark): the same lib/ code
 * runs in both places.
 */
export function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * When Temporal scheduled the current attempt of the running activity: later attempts (retries,
 * resets) are scheduled later. Outside an activity (tests, benchmark) the current time.
 */
export function attemptScheduledAt(): Date {
  const ctx = currentActivity();
  return ctx ? new Date(ctx.info.currentAttemptScheduledTimestampMs) : new Date();
}
