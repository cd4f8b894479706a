import type { SyncRunRow } from '../../../lib/db/repositories/sync-runs.repository';

/**
 * A run as history shows it: the sync_runs columns in camelCase, one level deep so a UI or a script
 * reads `run.createdCount` directly. The artifact path (file_ref) is internal and stays out.
 */
export interface RunView {
  id: string;
  districtId: string;
  trigger: SyncRunRow['trigger'];
  dryRun: boolean;
  status: SyncRunRow['status'];
  stage: string | null;
  retryOf: string | null;
  fileName: string | null;
  fileSize: number | null;
  fileSha256: string | null;
  rowsTotal: number | null;
  rowsBlank: number | null;
  rowsValid: number | null;
  createdCount: number | null;
  updatedCount: number | null;
  unchangedCount: number | null;
  reactivatedCount: number | null;
  archivedCount: number | null;
  errorCount: number | null;
  warningCount: number | null;
  /** Milliseconds per stage, e.g. { fetch: 120, stage: 950 }. */
  timings: Record<string, number>;
  failureType: string | null;
  failureMessage: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  appliedAt: Date | null;
}

export function toRunView(row: SyncRunRow): RunView {
  return {
    id: row.id,
    districtId: row.district_id,
    trigger: row.trigger,
    dryRun: row.dry_run,
    status: row.status,
    stage: row.stage,
    retryOf: row.retry_of,
    fileName: row.file_name,
    fileSize: row.file_size,
    fileSha256: row.file_sha256,
    rowsTotal: row.rows_total,
    rowsBlank: row.rows_blank,
    rowsValid: row.rows_valid,
    createdCount: row.created_count,
    updatedCount: row.updated_count,
    unchangedCount: row.unchanged_count,
    reactivatedCount: row.reactivated_count,
    archivedCount: row.archived_count,
    errorCount: row.error_count,
    warningCount: row.warning_count,
    timings: row.timings,
    failureType: row.failure_type,
    failureMessage: row.failure_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    appliedAt: row.applied_at,
  };
}
