import type { MailSweepResult } from '../lib/contracts/mail-sweep';
import type { OpenRuns } from '../lib/contracts/schedule';
import type {
  ApplyResult,
  FetchedFile,
  PlanResult,
  RunStatus,
  Safeguards,
  StageResult,
  SyncTrigger,
} from '../lib/contracts/sync';

/**
 * The activities a sync run calls. Workflows import this file with `import type` only.
 * Every activity is idempotent on runId: a retry or a Temporal reset never repeats a side effect.
 */
export interface SyncActivities {
  /**
   * Creates the run row for a scheduled / file-arrived trigger (Sync Now rows are created by the API).
   * With `runId` (chosen by the workflow) a retry finds the row an earlier attempt created.
   */
  createRun(input: {
    districtId: string;
    trigger: SyncTrigger;
    dryRun: boolean;
    runId?: string;
  }): Promise<{ runId: string }>;
  /** Marks the run running and returns the safeguards in force for it. */
  startRun(input: { runId: string; workflowId: string }): Promise<{ safeguards: Safeguards }>;
  fetchFile(input: { runId: string }): Promise<FetchedFile>;
  stageFile(input: { runId: string }): Promise<StageResult>;
  planChanges(input: { runId: string }): Promise<PlanResult>;
  applyChanges(input: { runId: string }): Promise<ApplyResult>;
  sendWelcomeEmails(input: { runId: string }): Promise<{ sent: number }>;
  notifyAdmins(input: { runId: string }): Promise<{ sent: number }>;
  /**
   * The district's runs still open in Postgres (running, held, and queued ones created before
   * `queuedBefore`, epoch ms): a district workflow starting afresh settles what a terminated or
   * timed-out execution left behind.
   */
  openRuns(input: { districtId: string; queuedBefore: number }): Promise<OpenRuns>;
  /**
   * Closes a run a lost execution left open (failed, with the type and message given) if it is still
   * running or queued, dropping its staging unless held; returns its status afterwards (null: no such run).
   */
  abandonRun(input: {
    runId: string;
    failureType: string;
    failureMessage: string;
  }): Promise<{ status: RunStatus | null }>;
  /** Records the final (or held) status with a reason, and drops the run's staging data once final. */
  finishRun(input: {
    runId: string;
    status: Exclude<RunStatus, 'queued' | 'running'>;
    failureType?: string;
    failureMessage?: string;
  }): Promise<void>;
}

/** The mail sweep's activity (workflows/mail-sweep.workflow.ts). */
export interface MailSweepActivities {
  /** Delivers mail that runs' own mail steps left owed for longer than `olderThanMs`. */
  deliverOwedMail(input: { olderThanMs: number }): Promise<MailSweepResult>;
}
