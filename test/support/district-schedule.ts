import type { DistrictSchedule, DistrictState } from '../../lib/contracts/schedule';

/** A district's schedule: daily at 02:00 Chicago time from 2030 unless `overrides` say otherwise. */
export const schedule = (overrides: Partial<DistrictSchedule> = {}): DistrictSchedule => ({
  timeZone: 'America/Chicago',
  enabled: true,
  frequency: 'daily',
  startDate: '2030-01-01',
  timeOfDay: '02:00',
  processOnArrival: false,
  ...overrides,
});

/** A district's carried state with nothing queued, held or remembered, next due at `nextDueAt`. */
export const dueState = (nextDueAt: number | null): DistrictState => ({
  nextDueAt,
  queued: null,
  approved: null,
  held: null,
  lastOutcome: null,
  recentRunIds: [],
  inFlight: null,
});
