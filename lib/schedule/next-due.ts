import { DateTime, IANAZone } from 'luxon';
import type { DistrictSchedule } from '../contracts/schedule';

/**
 * Schedule maths for a district: when is the next run due? Pure and deterministic (luxon over Intl,
 * both available inside Temporal's workflow sandbox), so the district workflow calls it directly.
 *
 * Rules (docs/schedules.md):
 * - nothing runs before the start date; 'once' runs exactly once, at startDate + timeOfDay;
 * - weekly runs on the start date's weekday, monthly on the start date's day of month, clamped to
 *   the last day of shorter months (a Jan 31 start runs Feb 28/29, then Mar 31 — always counted
 *   from the start date, so clamping never drifts);
 * - the wall-clock time is kept across DST; a local time that does not exist that day (spring
 *   forward) runs at the first valid instant after the gap; a repeated local time (fall back) runs
 *   once, at its first occurrence.
 */

const MINUTE = 60_000;

type ScheduleTiming = Pick<DistrictSchedule, 'timeZone' | 'frequency' | 'startDate' | 'timeOfDay'>;

/** Epoch ms of a local wall-clock time in `zone`, resolving DST gaps and overlaps as documented above. */
export function localToInstant(
  zone: string,
  wall: { year: number; month: number; day: number; hour: number; minute: number },
): number {
  const tz = IANAZone.create(zone);
  if (!tz.isValid)
    throw new Error(`Unknown time zone "${zone}": use an IANA name such as "America/Chicago".`);
  // The wall time read as if it were UTC; subtracting the zone's offset gives the instant.
  const naive = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // Offsets in force a day either side cover every transition that can touch this wall time.
  const before = tz.offset(naive - 36 * 60 * MINUTE);
  const after = tz.offset(naive + 36 * 60 * MINUTE);
  const candidates = [...new Set([before, after, tz.offset(naive)])]
    .map((offset) => naive - offset * MINUTE)
    .filter((instant) => naive - tz.offset(instant) * MINUTE === instant)
    .sort((a, b) => a - b);
  // Overlap (fall back): the same wall time happens twice; run at the first one only.
  if (candidates.length > 0) return candidates[0];
  // Gap (spring forward): the wall time never happens; the first valid instant is the transition.
  let lo = naive - Math.max(before, after) * MINUTE;
  let hi = naive - Math.min(before, after) * MINUTE;
  const postOffset = tz.offset(hi);
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (tz.offset(mid) === postOffset) hi = mid;
    else lo = mid;
  }
  return hi;
}

function occurrence(schedule: ScheduleTiming, index: number): number {
  const start = DateTime.fromISO(schedule.startDate, { zone: 'UTC' });
  const [hour, minute] = schedule.timeOfDay.split(':').map(Number);
  // Always step from the start date so monthly clamping (Jan 31 -> Feb 28) does not drift to the 28th.
  const day =
    schedule.frequency === 'monthly'
      ? start.plus({ months: index })
      : start.plus({ days: index * (schedule.frequency === 'weekly' ? 7 : 1) });
  return localToInstant(schedule.timeZone, { year: day.year, month: day.month, day: day.day, hour, minute });
}

/** The first due instant strictly after `afterMs` (epoch ms), or null when the schedule has nothing left. */
export function nextDueAfter(schedule: ScheduleTiming, afterMs: number): number | null {
  if (schedule.frequency === 'once') {
    const due = occurrence(schedule, 0);
    return due > afterMs ? due : null;
  }
  const start = DateTime.fromISO(schedule.startDate, { zone: schedule.timeZone });
  const now = DateTime.fromMillis(afterMs, { zone: schedule.timeZone });
  const localToday = DateTime.fromISO(now.toISODate() ?? schedule.startDate, { zone: schedule.timeZone });
  // Estimate the occurrence index reached by `afterMs`, step back one for safety, then walk forward.
  let estimate: number;
  if (schedule.frequency === 'monthly') {
    estimate = (localToday.year - start.year) * 12 + (localToday.month - start.month);
  } else {
    const days = Math.round(localToday.diff(start, 'days').days);
    estimate = schedule.frequency === 'weekly' ? Math.floor(days / 7) : days;
  }
  for (let index = Math.max(0, estimate - 1); ; index++) {
    const due = occurrence(schedule, index);
    if (due > afterMs) return due;
  }
}

/** The next due instant for a schedule as the workflow sees it: none while disabled. */
export function nextDueFor(schedule: DistrictSchedule, afterMs: number): number | null {
  return schedule.enabled ? nextDueAfter(schedule, afterMs) : null;
}

/** An instant as ISO with the district's own offset (what an admin reads), e.g. 2026-03-09T02:00:00.000-05:00. */
export function toLocalIso(instantMs: number, timeZone: string): string {
  return DateTime.fromMillis(instantMs, { zone: timeZone }).toISO() ?? new Date(instantMs).toISOString();
}
