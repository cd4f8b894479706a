import { IANAZone } from 'luxon';
import { z } from 'zod';
import { ReviewDecisionSignal, RunStatus, SyncRunInput, SyncTrigger } from './sync';

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

/**
 * The run whose child workflow is in flight, carried across continue-as-new: the child outlives the
 * execution that started it (ParentClosePolicy ABANDON) and tells the district workflow id when it
 * ends (RunEndedSignal).
 */
export const InFlightRun = z.object({
  runId: z.string(),
  trigger: SyncTrigger,
  dryRun: z.boolean(),
  /** A review decision that arrived while the run was finishing (applied if the run ends held). */
  earlyDecision: ReviewDecisionSignal.nullable().default(null),
});
export type InFlightRun = z.infer<typeof InFlightRun>;

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
  inFlight: InFlightRun.nullable().default(null),
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
  /**
   * How often a district workflow that did not start the run in flight itself (it continued as new
   * meanwhile, or adopted the run after a restart) checks that the run's workflow still runs.
   */
  runCheckIntervalMs: z.number().int().min(1_000).default(300_000),
});
export type DistrictSyncInput = z.input<typeof DistrictSyncInput>;

/** Input of the run child workflow: a run, or (resumeApproved) the apply half of a run a reviewer approved. */
export const SyncRunWorkflowInput = SyncRunInput.extend({
  resumeApproved: z.boolean().default(false),
  /** Signal the district workflow (RUN_ENDED_SIGNAL) when the run ends: it may have continued as new. */
  notifyDistrict: z.boolean().default(false),
});
export type SyncRunWorkflowInput = z.input<typeof SyncRunWorkflowInput>;

export interface SyncRunResult {
  runId: string;
  status: 'succeeded' | 'held';
  applied: boolean;
}

/** Sent by a run's child workflow to `district-sync:<districtId>` when the run ends, however it ends. */
export const RUN_ENDED_SIGNAL = 'runEnded';
export const RunEndedSignal = z.object({
  runId: z.string(),
  status: z.enum(['succeeded', 'held', 'failed']),
  failureType: z.string().optional(),
});
export type RunEndedSignal = z.infer<typeof RunEndedSignal>;

/**
 * Sent by a district workflow to a run's workflow it did not start itself, only to learn whether it
 * still runs (signalling a closed workflow fails): the run ignores it.
 */
export const RUN_CHECK_SIGNAL = 'districtCheck';

/** Runs a district workflow finds still open in Postgres when it starts with no carried state. */
export interface OpenRuns {
  /** Rows `running`, with the workflow id that claimed them. */
  running: { runId: string; workflowId: string | null; trigger: SyncTrigger; dryRun: boolean }[];
  /** Rows `queued` created before the cut-off the workflow gave. */
  queued: string[];
  /** The newest row `held`, waiting for review. */
  held: { runId: string; trigger: SyncTrigger } | null;
}
