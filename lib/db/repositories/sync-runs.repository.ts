import type { Queryable } from '../queryable';
import type { RunStatus, SyncTrigger } from '../../contracts/sync';

export interface SyncRunRow {
  id: string;
  district_id: string;
  trigger: SyncTrigger;
  dry_run: boolean;
  status: RunStatus;
  stage: string | null;
  workflow_id: string | null;
  file_name: string | null;
  file_size: number | null;
  file_sha256: string | null;
  file_ref: string | null;
  rows_total: number | null;
  rows_blank: number | null;
  rows_valid: number | null;
  rows_with_errors: number | null;
  active_before: number | null;
  created_count: number | null;
  updated_count: number | null;
  unchanged_count: number | null;
  reactivated_count: number | null;
  archived_count: number | null;
  error_count: number | null;
  warning_count: number | null;
  timings: Record<string, number>;
  plan_samples: unknown;
  failure_type: string | null;
  failure_message: string | null;
  applied_at: Date | null;
  staged_rows: number | null;
  staged_checksum: string | null;
  retry_of: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Statuses a run never leaves: its outcome, counts, findings and plan are history. */
/** The file a district's runs read last (SyncRunsRepository.currentFile). */
export interface CurrentFile {
  /** The first run that read it. */
  runId: string;
  fileName: string | null;
  sha256: string;
  firstReadAt: Date;
}

export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'discarded'];

/**
 * Applied, or ended for good: what the run recorded is history, and a retried, replayed or reset
 * step must leave it as it is. An applied run still running is included: its plan is what was applied.
 */
export function isSettled(run: Pick<SyncRunRow, 'status' | 'applied_at'>): boolean {
  return run.applied_at !== null || FINAL_STATUSES.includes(run.status);
}

const COLUMNS = `id, district_id, trigger, dry_run, status, stage, workflow_id, file_name, file_size, file_sha256, file_ref,
  rows_total, rows_blank, rows_valid, rows_with_errors, active_before, created_count, updated_count, unchanged_count, reactivated_count, archived_count,
  error_count, warning_count, timings, plan_samples, failure_type, failure_message, applied_at, retry_of, created_at,
  started_at, finished_at, staged_rows, staged_checksum`;

/** A run guard's holder: its token and the Postgres session holding the lock. */
export interface GuardSession {
  token: string;
  pid: number;
  /** When the session began, in µs since the epoch (a bigint as text: a Date would lose the µs). */
  backendStart: string;
}

const BACKEND_START_US = '(extract(epoch FROM a.backend_start) * 1000000)::bigint::text';

/** Advisory lock space of run guards (the second key is the run id's hash). */
const RUN_GUARD_LOCK_SPACE = 1_917_006_002;

/** The only code that speaks SQL about sync_runs. */
export class SyncRunsRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Inserts a run. With `runId`, creating it again returns the row already there (a retried
   * activity whose first attempt committed), so one trigger never leaves two rows.
   */
  async create(input: {
    districtId: string;
    trigger: SyncTrigger;
    dryRun: boolean;
    retryOf?: string | null;
    runId?: string;
  }): Promise<SyncRunRow> {
    const { rows } = await this.db.query<SyncRunRow>(
      `INSERT INTO sync_runs (id, district_id, trigger, dry_run, retry_of)
       VALUES (COALESCE($5::uuid, gen_random_uuid()), $1, $2, $3, $4)
       ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [input.districtId, input.trigger, input.dryRun, input.retryOf ?? null, input.runId ?? null],
    );
    if (rows[0]) return rows[0];
    const existing = await this.get(input.runId!, input.districtId);
    if (!existing) throw new Error(`Run ${input.runId} exists for another district`);
    return existing;
  }

  async get(runId: string, districtId?: string): Promise<SyncRunRow | undefined> {
    const { rows } = await this.db.query<SyncRunRow>(
      `SELECT ${COLUMNS} FROM sync_runs WHERE id = $1 AND ($2::uuid IS NULL OR district_id = $2)`,
      [runId, districtId ?? null],
    );
    return rows[0];
  }

  async listForDistrict(
    districtId: string,
    page: { limit: number; offset: number },
  ): Promise<{ total: number; runs: SyncRunRow[] }> {
    const [{ rows }, count] = await Promise.all([
      this.db.query<SyncRunRow>(
        `SELECT ${COLUMNS} FROM sync_runs WHERE district_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
        [districtId, page.limit, page.offset],
      ),
      this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_runs WHERE district_id = $1', [
        districtId,
      ]),
    ]);
    return { total: count.rows[0].n, runs: rows };
  }

  /** Records the outcome of one stage: timing in ms under the stage's name plus any counters. */
  async update(
    runId: string,
    fields: Partial<Omit<SyncRunRow, 'id' | 'district_id' | 'created_at' | 'timings'>>,
    timing?: { stage: string; ms: number },
  ): Promise<void> {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    const sets = entries.map(([key], i) => `${key} = $${i + 2}`);
    const values: unknown[] = entries.map(([, v]) =>
      v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v,
    );
    if (timing) {
      sets.push(
        `timings = timings || jsonb_build_object($${values.length + 2}::text, $${values.length + 3}::int)`,
      );
      values.push(timing.stage, Math.round(timing.ms));
    }
    if (sets.length === 0) return;
    await this.db.query(`UPDATE sync_runs SET ${sets.join(', ')} WHERE id = $1`, [runId, ...values]);
  }

  /**
   * Records the file a fetch copied, only while the run has not moved past fetching: before any
   * file is recorded, or the same file again. `replace` when the recorded copy is gone. False
   * when refused: a stale attempt finishing late never replaces the file a run went on with.
   */
  async recordFetched(
    runId: string,
    file: { name: string; fileRef: string; size: number; sha256: string },
    fetchMs: number,
    replace: boolean,
  ): Promise<boolean> {
    const res = await this.db.query(
      `UPDATE sync_runs SET stage = 'fetched', file_name = $2, file_ref = $3, file_size = $4, file_sha256 = $5,
              timings = timings || jsonb_build_object('fetch', $6::int)
       WHERE id = $1 AND (stage IS NULL OR (stage = 'fetched' AND file_sha256 = $5) OR $7)`,
      [runId, file.name, file.fileRef, file.size, file.sha256, Math.round(fetchMs), replace],
    );
    return res.rowCount === 1;
  }

  /**
   * Marks a run running (idempotent: a retried start keeps the first started_at). Returns false when
   * the run is already final, so a stray retry cannot revive it.
   */
  async markRunning(runId: string, workflowId: string): Promise<boolean> {
    // A failed run that applied nothing comes back to life when support resets its own workflow in
    // the Temporal UI: the reset replays the run from the start, and the apply guard still holds.
    const res = await this.db.query(
      `UPDATE sync_runs SET status = 'running', workflow_id = $2, started_at = COALESCE(started_at, now()),
              failure_type = CASE WHEN status = 'failed' THEN NULL ELSE failure_type END,
              failure_message = CASE WHEN status = 'failed' THEN NULL ELSE failure_message END,
              finished_at = CASE WHEN status = 'failed' THEN NULL ELSE finished_at END
       WHERE id = $1 AND (status IN ('queued', 'running', 'held')
                          OR (status = 'failed' AND applied_at IS NULL AND workflow_id = $2))`,
      [runId, workflowId],
    );
    return res.rowCount === 1;
  }

  /** Another run of the same district that is running right now (runs of a district never overlap). */
  async otherRunning(runId: string, districtId: string): Promise<SyncRunRow | undefined> {
    const { rows } = await this.db.query<SyncRunRow>(
      `SELECT ${COLUMNS} FROM sync_runs WHERE district_id = $1 AND id <> $2 AND status = 'running' LIMIT 1`,
      [districtId, runId],
    );
    return rows[0];
  }

  /** Data rows (blank rows excluded) of the district's last applied file: the row-drop safeguard's baseline. */
  async lastAppliedRowCount(districtId: string, excludeRunId: string): Promise<number | null> {
    const { rows } = await this.db.query<{ n: number | null }>(
      `SELECT rows_total - COALESCE(rows_blank, 0) AS n FROM sync_runs
       WHERE district_id = $1 AND id <> $2 AND applied_at IS NOT NULL AND NOT dry_run AND rows_total IS NOT NULL
       ORDER BY applied_at DESC LIMIT 1`,
      [districtId, excludeRunId],
    );
    return rows[0]?.n ?? null;
  }

  /**
   * Final (or held) status with its reason; finished_at only once final. Returns false, changing
   * nothing, when the run had already ended: a replayed or reset run never rewrites its outcome.
   */
  async finish(
    runId: string,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    failure: { type?: string; message?: string },
  ): Promise<boolean> {
    const res = await this.db.query(
      `UPDATE sync_runs SET status = $2, stage = CASE WHEN $2 = 'held' THEN 'review' ELSE 'done' END,
              failure_type = $3, failure_message = $4,
              finished_at = CASE WHEN $2 = 'held' THEN NULL ELSE COALESCE(finished_at, now()) END
       WHERE id = $1 AND status <> ALL($5::text[])`,
      [runId, status, failure.type ?? null, failure.message ?? null, FINAL_STATUSES],
    );
    return res.rowCount === 1;
  }

  /**
   * Closes a run its district workflow lost (failed, RunAbandoned), only while it is still running
   * or queued: a run that was held or ended meanwhile keeps what it recorded. Returns the status
   * the run has afterwards (undefined: no such run).
   */
  async abandon(runId: string, failure: { type: string; message: string }): Promise<RunStatus | undefined> {
    const { rows } = await this.db.query<{ status: RunStatus }>(
      `WITH closed AS (
         UPDATE sync_runs SET status = 'failed', stage = 'done', failure_type = $2, failure_message = $3,
                finished_at = COALESCE(finished_at, now())
         WHERE id = $1 AND status IN ('running', 'queued') RETURNING status
       )
       SELECT status FROM closed UNION ALL SELECT status FROM sync_runs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM closed)`,
      [runId, failure.type, failure.message],
    );
    return rows[0]?.status;
  }

  /** Waits for the run's guard lock, held by this session until unlockRun or the session ends. */
  async lockRun(runId: string): Promise<void> {
    await this.db.query('SELECT pg_advisory_lock($1, hashtext($2::text))', [RUN_GUARD_LOCK_SPACE, runId]);
  }

  async unlockRun(runId: string): Promise<void> {
    await this.db.query('SELECT pg_advisory_unlock($1, hashtext($2::text))', [RUN_GUARD_LOCK_SPACE, runId]);
  }

  /**
   * Records this session as the run's guard holder, with a new token. Refused (undefined) when an
   * attempt scheduled later than `attemptAt` already held the guard: a stale attempt never writes.
   */
  async takeGuard(runId: string, attemptAt: Date): Promise<GuardSession | undefined> {
    const { rows } = await this.db.query<GuardSession>(
      `UPDATE sync_runs SET guard_token = gen_random_uuid(), guard_attempt_at = $2
       WHERE id = $1 AND (guard_attempt_at IS NULL OR guard_attempt_at <= $2)
       RETURNING guard_token AS token, pg_backend_pid() AS pid,
                 (SELECT ${BACKEND_START_US} FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()) AS "backendStart"`,
      [runId, attemptAt],
    );
    return rows[0];
  }

  /**
   * Whether `token` still holds the run's guard and its session still holds the lock: false after a
   * newer attempt took over or a database restart ended the session. The session is its pid and
   * backend start together (a pid alone repeats after a restart). The row lock keeps it so until the
   * caller's transaction ends.
   */
  async holdsGuard(runId: string, token: string, session: Omit<GuardSession, 'token'>): Promise<boolean> {
    const { rows } = await this.db.query(
      `SELECT 1 FROM sync_runs r
       WHERE r.id = $1 AND r.guard_token = $2
         AND EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $3 AND l.objsubid = 2
                       AND ${BACKEND_START_US} = $5
                       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                       AND l.classid = $4::int::oid AND l.objid = hashtext($1::text)::oid)
       FOR SHARE OF r`,
      [runId, token, session.pid, RUN_GUARD_LOCK_SPACE, session.backendStart],
    );
    return rows.length === 1;
  }

  /**
   * The file the district's runs read last, and when a run first read it (the start of its unbroken
   * streak of runs reading the same SHA-256): what a stale feed is measured from. Runs created after
   * `asOf` are not looked at.
   */
  async currentFile(districtId: string, asOf: Date): Promise<CurrentFile | null> {
    const { rows } = await this.db.query<CurrentFile>(
      `WITH files AS (
         SELECT id, file_sha256, file_name, created_at FROM sync_runs
         WHERE district_id = $1 AND file_sha256 IS NOT NULL AND created_at <= $2
       ), latest AS (
         SELECT file_sha256 FROM files ORDER BY created_at DESC LIMIT 1
       ), changed AS (
         SELECT max(created_at) AS at FROM files WHERE file_sha256 <> (SELECT file_sha256 FROM latest)
       )
       SELECT f.id AS "runId", f.file_name AS "fileName", f.file_sha256 AS sha256, f.created_at AS "firstReadAt"
       FROM files f
       WHERE f.file_sha256 = (SELECT file_sha256 FROM latest)
         AND f.created_at > coalesce((SELECT at FROM changed), '-infinity')
       ORDER BY f.created_at LIMIT 1`,
      [districtId, asOf],
    );
    return rows[0] ?? null;
  }

  /**
   * The district's runs not yet ended: running, held, and queued ones created before `queuedBefore`
   * (a newer queued row may be one whose Sync Now signal is on its way). Oldest first.
   */
  async openForDistrict(districtId: string, queuedBefore: Date): Promise<SyncRunRow[]> {
    const { rows } = await this.db.query<SyncRunRow>(
      `SELECT ${COLUMNS} FROM sync_runs
       WHERE district_id = $1 AND (status IN ('running', 'held') OR (status = 'queued' AND created_at < $2))
       ORDER BY created_at, id`,
      [districtId, queuedBefore],
    );
    return rows;
  }
}
