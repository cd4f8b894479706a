import type { z } from 'zod';
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  TemporalFailure,
} from '@temporalio/workflow';

/**
 * Validates a workflow input. A bad input fails the workflow at once with a readable message
 * (type InvalidInput) instead of failing its first task over and over.
 */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
  throw ApplicationFailure.nonRetryable(`Invalid ${what} workflow input: ${issues}`, INVALID_INPUT);
}

export const INVALID_INPUT = 'InvalidInput';

/** Failure type when nothing more specific is known (a bug, a timeout, a terminated child). */
export const INTERNAL_FAILURE = 'Internal';

/**
 * The ApplicationFailure at the root of an error, if any. Activity and child workflow failures wrap
 * the original; we branch on its `type` string, never on our own error classes (they do not survive
 * the sandbox boundary).
 */
export function rootApplicationFailure(err: unknown): ApplicationFailure | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current; depth++) {
    if (current instanceof ApplicationFailure) return current;
    if (current instanceof ActivityFailure || current instanceof ChildWorkflowFailure)
      current = current.cause;
    else if (current instanceof TemporalFailure) current = current.cause;
    else return undefined;
  }
  return undefined;
}

export function describeFailure(err: unknown): { type: string; message: string } {
  const app = rootApplicationFailure(err);
  if (app) return { type: app.type ?? INTERNAL_FAILURE, message: app.message };
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return {
      type: err instanceof TemporalFailure ? err.name : INTERNAL_FAILURE,
      message: `${err.message}${cause}`,
    };
  }
  return { type: INTERNAL_FAILURE, message: String(err) };
}
