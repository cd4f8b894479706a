import type { DistrictSchedule } from '../../../lib/contracts/schedule';
import * as queue from '../../../workflows/district-queue';

/** A daily 02:00 UTC schedule that runs on file arrival, and a queue with nothing waiting on 2026-03-01. */
export const schedule: DistrictSchedule = {
  timeZone: 'UTC',
  enabled: true,
  frequency: 'daily',
  startDate: '2026-01-01',
  timeOfDay: '02:00',
  processOnArrival: true,
};

export const at = (iso: string): number => Date.parse(iso);

export const emptyQueue = (now = at('2026-03-01T00:00:00Z')): queue.DistrictQueue =>
  queue.openQueue(queue.initialState(schedule, now));
