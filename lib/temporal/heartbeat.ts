import { currentActivity } from './activity-context';

/**
 * Heartbeats when running inside a Temporal activity, does nothing otherwise (tests, benchmark):
 * the same engine code runs in both places.
 */
export function heartbeat(details?: unknown): void {
  currentActivity()?.heartbeat(details);
}

/**
 * Keeps heartbeating while one long statement runs (a set-based UPDATE over a million rows gives
 * no chance to heartbeat in between).
 */
export async function withHeartbeat<T>(label: string, work: () => Promise<T>, everyMs = 5000): Promise<T> {
  heartbeat(label);
  const timer = setInterval(() => heartbeat(label), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
