import { z } from 'zod';

/**
 * Shapes that cross the Temporal boundary (workflow inputs, signals, queries, activity results).
 * Pure: imported by workflows/, so nothing here may touch Node builtins. Only ids, refs and counts
 * travel through Temporal; rows stay in Postgres.
 */

export const SyncTrigger = z.enum(['schedule', 'sync_now', 'file_arrived', 'catch_up', 'retry']);
export type SyncTrigger = z.infer<typeof SyncTrigger>;

export const RunStatus = z.enum(['queued', 'running', 'held', 'succeeded', 'failed', 'discarded']);
export type RunStatus = z.infer<typeof RunStatus>;

/** `ApplicationFailure.type` values. Branch on these strings, never on error classes. */
export const FailureType = {
  MissingColumns: 'MissingColumns',
  FileNotFound: 'FileNotFound',
  UnsupportedFile: 'UnsupportedFile',
  EmptyFile: 'EmptyFile',
  ThresholdExceeded: 'ThresholdExceeded',
  AuthFailed: 'AuthFailed',
  HostKeyMismatch: 'HostKeyMismatch',
  /** A district's own SFTP server is on an address the worker must not connect to. */
  HostNotAllowed: 'HostNotAllowed',
  FileTooLarge: 'FileTooLarge',
  ConfigMissing: 'ConfigMissing',
  RunNotFound: 'RunNotFound',
  Discarded: 'Discarded',
  /**
   * startRun's refusal of a run that already ended (a reset or replay of a finished run): the run
   * workflow stops without recording or mailing anything; the run row keeps its outcome.
   */
  RunFinished: 'RunFinished',
  /**
   * The run's staged rows were lost (a database crash or failover empties staging) and staging its
   * stored file again did not give back the rows it was planned from: nothing is applied.
   */
  StagingLost: 'StagingLost',
  /** A district's kept files would pass DISTRICT_ARTIFACT_MAX_BYTES even after releasing old ones. */
  ArtifactLimitExceeded: 'ArtifactLimitExceeded',
  /** The run's district workflow was terminated or timed out before the run ended. */
  RunAbandoned: 'RunAbandoned',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
/** Data and configuration problems: retrying cannot help, a person must fix the file or the config. */
export const NON_RETRYABLE_FAILURES: string[] = Object.values(FailureType);
/** `ApplicationFailure.type` values of failures that Temporal retries with backoff: they often heal. */
export const RetryableFailureType = {
  /** A plain file changed too recently, or is open for writing on the hosted server. */
  FileStillUploading: 'FileStillUploading',
  /** A district's own SFTP server stopped answering, or sends under the minimum throughput. */
  SourceStalled: 'SourceStalled',
  /** Another run of the district is running: this one starts once it has finished. */
  RunInProgress: 'RunInProgress',
  /** A newer attempt of the step took over the run (or the database restarted under this one). */
  AttemptSuperseded: 'AttemptSuperseded',
} as const;
export type RetryableFailureType = (typeof RetryableFailureType)[keyof typeof RetryableFailureType];

export const districtWorkflowId = (districtId: string): string => `district-sync:${districtId}`;
export const runWorkflowId = (districtId: string, runId: string): string => `sync-run:${districtId}:${runId}`;

/**
 * Runs (child workflows and their activities) have a task queue of their own beside the districts'
 * schedules queue: a district's timer is then never queued behind other districts' run work, and
 * run capacity can grow (more worker processes) without touching the schedules.
 */
export const runTaskQueue = (schedulesQueue: string): string => `${schedulesQueue}-runs`;

/** Message names of the district workflow. */
export const SIGNALS = {
  syncNow: 'syncNow',
  fileArrived: 'fileArrived',
  configChanged: 'configChanged',
  reviewDecision: 'reviewDecision',
} as const;
export const QUERIES = { status: 'status' } as const;

export const SyncNowSignal = z.object({
  runId: z.string().uuid(),
  dryRun: z.boolean().default(false),
  trigger: z.enum(['sync_now', 'retry']).default('sync_now'),
});
export type SyncNowSignal = z.infer<typeof SyncNowSignal>;

export const FileArrivedSignal = z.object({ path: z.string() });
export type FileArrivedSignal = z.infer<typeof FileArrivedSignal>;

export const ReviewDecisionSignal = z.object({ runId: z.string().uuid(), approve: z.boolean() });
export type ReviewDecisionSignal = z.infer<typeof ReviewDecisionSignal>;

export const SyncRunInput = z.object({
  districtId: z.string().uuid(),
  runId: z.string().uuid(),
  trigger: SyncTrigger,
  dryRun: z.boolean().default(false),
});
export type SyncRunInput = z.infer<typeof SyncRunInput>;

export interface FetchedFile {
  fileRef: string;
  name: string;
  size: number;
  sha256: string;
}

export interface StageResult {
  rowsTotal: number;
  rowsBlank: number;
  rowsValid: number;
  /** Rows skipped because of at least one row error. */
  rowsWithErrors: number;
  warningCount: number;
  /** Set when the file as a whole cannot be used; nothing else applies. */
  fatal?: { type: FailureType; message: string };
}

export interface PlanResult {
  create: number;
  update: number;
  unchanged: number;
  reactivate: number;
  archive: number;
  activeBefore: number;
  /** Row count of the last applied file, for the row-drop safeguard; null on a first run. */
  previousRowCount: number | null;
}

export interface ApplyResult {
  applied: boolean;
  created: number;
  updated: number;
  reactivated: number;
  archived: number;
}

export interface Safeguards {
  errorThresholdPct: number;
  maxArchivePct: number;
  maxArchiveCount: number;
  maxRowDropPct: number;
}
