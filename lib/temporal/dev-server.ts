/**
 * Dynamic config of the Temporal dev server that rostersync starts itself (`npm start`, the tests,
 * `npm run bench:schedules`). A production cluster is configured by its operator; docs/runbook.md
 * lists the same two settings for it.
 *
 * - `system.enableActivityEagerExecution`: when a run's workflow task schedules its next step, the
 *   server hands the activity straight back to the worker that completed the task instead of
 *   queueing it for a poll. The SDK asks for it by default; the server only honours it when enabled.
 *   A run's steps follow each other, so every one of them skips a round trip through matching.
 * - `history.queueReaderStuckCriticalAttempts=0`: the timer queue calls itself "stuck" when more than
 *   three batches (300 timers) fall in the same second, and moves that second to a second reader.
 *   The dev server has a single history shard, so a burst of districts due together (many pick
 *   02:00) is exactly that, and the split is what stalled some districts' timers by tens of seconds
 *   under load (docs/schedules.md, Scale). 0 turns the check off.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'system.enableActivityEagerExecution': true,
  'history.queueReaderStuckCriticalAttempts': 0,
};

/** Command-line arguments of `temporal server start-dev` for the settings above, plus quiet logs. */
export function devServerArgs(): string[] {
  const args = Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
  // Its warnings are mostly connection chatter while clients and workers start and stop.
  return [...args, '--log-level', 'error'];
}
