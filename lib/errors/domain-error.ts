import { NON_RETRYABLE_FAILURES, type FailureType, type RetryableFailureType } from '../contracts/sync';

/**
 * A step of a run failing for a cause it names: lib/ throws these, and the activity edge
 * (activities/typed-failure.ts) turns each into an ApplicationFailure of the same `type`, the one
 * thing workflows branch on. Retryability follows from the type: FailureType values are data and
 * configuration problems a person must fix, RetryableFailureType values often heal.
 */
export class DomainError extends Error {
  readonly nonRetryable: boolean;

  constructor(
    readonly type: FailureType | RetryableFailureType,
    message: string,
    /** For the worker's log only: what a district must not see (e.g. an internal address). */
    readonly detail?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
    this.nonRetryable = NON_RETRYABLE_FAILURES.includes(type);
  }
}
