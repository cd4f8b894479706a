import { IANAZone } from 'luxon';
import { z } from 'zod';
import { RunStatus, SyncRunInput, SyncTrigger } from './sync';

/**
 * Shapes of a district's schedule and of what the district workflow reports about it.
 * Pure (zod + luxon): imported by workflows/, so nothing here may touch Node builtins.
 */

const isRealDate = (value: string): boolean => {
  const [y, m, d] = value.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
};

export const ScheduleFrequency = z.enum(['once', 'daily', 'weekly', 'monthly']);
export type ScheduleFrequency = z.infer<typeof ScheduleFrequency>;

export const DistrictSchedule = z.object({
  timeZone: z.string().refine((zone) => IANAZone.isValidZone(zone), {
    message: 'timeZone must be an IANA time zone name such as "America/Chicago"',
  }),
  enabled: z.boolean(),
  frequency: ScheduleFrequency,
  startDate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'startDate must be a calendar date written YYYY-MM-DD')
    .refine(isRealDate, { message: 'startDate is not a real calendar date' }),
  timeOfDay: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'timeOfDay must be a 24-hour local time written HH:MM, e.g. "02:00"'),
  processOnArrival: z.boolean(),
});
export type DistrictSchedule = z.infer<typeof DistrictSchedule>;

export const RunOutcome = z.object({
  runId: z.string(),
  status: RunStatus,
  failureType: z.string().optional(),
  finishedAt: z.string(),
});
export type RunOutcome = z.infer<typeof RunOutcome>;

export const DistrictStatus = z.object({
  enabled: z.boolean(),
  frequency: ScheduleFrequency,
  /** Next scheduled run as an ISO instant in UTC; null when disabled or nothing is left to run. */
  nextRunAt: z.string().nullable(),
  /** The same instant as an ISO string with the district's own offset, e.g. 2026-03-09T02:00:00.000-05:00. */
  nextRunLocal: z.string().nullable(),
  inFlightRunId: z.string().nullable(),
  /** A run is waiting for the in-flight one to finish (extra triggers coalesce into it). */
  queued: z.boolean(),
  /** A run stopped by a safeguard, waiting for an admin's review decision. */
  heldRunId: z.string().nullable(),
  lastOutcome: RunOutcome.nullable(),
});
export type DistrictStatus = z.infer<typeof DistrictStatus>;

/** A run waiting its turn. runId is null when the run row is still to be created (scheduled / file arrival). */
export const QueuedRun = z.object({
  runId: z.string().nullable(),
  trigger: SyncTrigger,
  dryRun: z.boolean(),
  /** Set when an admin approved a held run: only apply what was already staged and planned. */
  resumeApproved: z.boolean().default(false),
  /** Sync Now run rows merged into this run; they end `discarded` ("Coalesced into run X") when it starts. */
  coalesced: z.array(z.string()).default([]),
});
export type QueuedRun = z.infer<typeof QueuedRun>;

/** What the district workflow carries across continue-as-new. Times are epoch milliseconds. */
export const DistrictState = z.object({
  nextDueAt: z.number().nullable(),
  queued: QueuedRun.nullable(),
  /** An approved held run goes before anything queued. */
  approved: QueuedRun.nullable().default(null),
  /** The run waiting for a review decision, with its trigger (kept for the resumed child's search attribute). */
  held: z.object({ runId: z.string(), trigger: SyncTrigger }).nullable().default(null),
  lastOutcome: RunOutcome.nullable(),
  /** Run ids started lately: a re-delivered Sync Now for a finished run is ignored, not run twice. */
  recentRunIds: z.array(z.string()).default([]),
});
export type DistrictState = z.infer<typeof DistrictState>;

export const DistrictSyncInput = z.object({
  districtId: z.string(),
  schedule: DistrictSchedule,
  state: DistrictState.optional(),
  /** A due time missed by more than the grace (worker down) becomes ONE catch-up run if within this window. */
  catchUpWindowHours: z.number().min(0).default(24),
  /** How late a timer may fire and still count as an on-time scheduled run. */
  catchUpGraceMs: z.number().int().min(0).default(60_000),
  /** Continue-as-new once history passes this many events (Temporal also suggests it at ~4k events). */
  maxHistoryEvents: z.number().int().min(1).optional(),
  /** Continue-as-new after this many runs in one execution; keeps histories short and testable. */
  maxRunsPerExecution: z.number().int().min(1).optional(),
});
export type DistrictSyncInput = z.input<typeof DistrictSyncInput>;

/** Input of the run child workflow: a run, or (resumeApproved) the apply half of a run a reviewer approved. */
export const SyncRunWorkflowInput = SyncRunInput.extend({ resumeApproved: z.boolean().default(false) });
export type SyncRunWorkflowInput = z.input<typeof SyncRunWorkflowInput>;

export interface SyncRunResult {
  runId: string;
  status: 'succeeded' | 'held';
  applied: boolean;
}
