import type { PoolClient } from 'pg';
import type { MatchingKey } from '../contracts/sync-config';
import { assertRunId, stagePartition } from './run-id';

/** Memory per hash or sort of a whole-district statement (Postgres' default of 4MB spills to disk). */
export const BULK_WORK_MEM = '128MB';

export interface AppliedCounts {
  created: number;
  updated: number;
  reactivated: number;
  archived: number;
}

/**
 * Writes a run's plan to users, set-based, inside the caller's transaction. The plan is applied as
 * it was computed (and, for a held run, as it was reviewed).
 */
export class ApplyRepository {
  constructor(private readonly db: PoolClient) {}

  /** Serialises everything that writes a district's users: two runs never apply at once. */
  async lockDistrict(districtId: string): Promise<void> {
    await this.db.query("SELECT pg_advisory_xact_lock(hashtextextended('sync:' || $1::text, 0))", [
      districtId,
    ]);
  }

  /**
   * Claims the run's one and only apply. A retry, a second worker or a Temporal reset finds
   * applied_at set and applies nothing; a dry run or a finished run is never applied.
   */
  async claim(runId: string): Promise<boolean> {
    const res = await this.db.query(
      `UPDATE sync_runs SET applied_at = now(), stage = 'applying'
       WHERE id = $1 AND applied_at IS NULL AND NOT dry_run AND status IN ('running', 'held')`,
      [assertRunId(runId)],
    );
    return res.rowCount === 1;
  }

  /** Whether another run of the district was applied after `since` (e.g. the config's last change). */
  async appliedSince(runId: string, districtId: string, since: Date): Promise<boolean> {
    const { rows } = await this.db.query<{ yes: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE district_id = $1 AND id <> $2 AND NOT dry_run
                      AND applied_at IS NOT NULL AND applied_at > $3) AS yes`,
      [districtId, assertRunId(runId), since],
    );
    return rows[0].yes;
  }

  /**
   * Refreshes the planner's statistics on users inside the apply transaction (ANALYZE counts the
   * transaction's own new rows): after a large apply they still describe the table as it was, and the
   * coaching-group statements and the next run's plan would be planned for an empty table.
   */
  async refreshUserStatistics(): Promise<void> {
    await this.db.query('ANALYZE users');
  }

  async apply(runId: string, districtId: string, key: MatchingKey): Promise<AppliedCounts> {
    const id = assertRunId(runId);
    // Whole-run joins of plan and staging: hash tables in memory rather than batches on disk.
    await this.db.query(`SET LOCAL work_mem = '${BULK_WORK_MEM}'`);
    const part = stagePartition(id);
    const planned = `FROM run_plan p
       JOIN ${part} s ON s.row_number = p.row_number
       LEFT JOIN schools sc ON sc.district_id = $2 AND sc.name = s.school
       WHERE p.run_id = $1`;
    // New users get a fresh random id, except with Platform ID as the key, where they take the id
    // the file gives: a user given that id since the plan was made is left alone (and the row is
    // created on the next run). Only then is the insert speculative: ON CONFLICT costs an extra index
    // probe and WAL record for every row of a million-row insert.
    const created = await this.db.query(
      `INSERT INTO users (id, district_id, email, first_name, last_name, internal_id, accounting_id, clever_id,
                          role, school_id, coach_email, phone, custom_fields, row_hash, status, last_run_id,
                          created_by_run)
       SELECT p.user_id, $2, s.email, s.first_name, s.last_name, s.internal_id, s.accounting_id, s.clever_id,
              s.role, sc.id, s.coach_email, s.phone, s.custom::jsonb, s.row_hash, 'active', $1, $1
       ${planned} AND p.action = 'create'
       ${key === 'platform_id' ? 'ON CONFLICT (id) DO NOTHING' : ''}`,
      [id, districtId],
    );
    const changed = await this.db.query<{ action: string; n: number }>(
      `WITH upd AS (
         UPDATE users u SET email = x.email, first_name = x.first_name, last_name = x.last_name,
                internal_id = x.internal_id, accounting_id = x.accounting_id, clever_id = x.clever_id,
                role = x.role, school_id = x.school_id, coach_email = x.coach_email, phone = x.phone,
                custom_fields = x.custom::jsonb, row_hash = x.row_hash, status = 'active', archived_at = NULL,
                updated_at = now(), last_run_id = $1, changed_by_run = $1, archived_by_run = NULL
         FROM (SELECT p.user_id, p.action, s.*, sc.id AS school_id
               ${planned} AND p.action IN ('update', 'reactivate')) x
         WHERE u.id = x.user_id AND u.district_id = $2
         RETURNING x.action
       )
       SELECT action, count(*)::int AS n FROM upd GROUP BY action`,
      [id, districtId],
    );
    const archived = await this.db.query(
      `UPDATE users u SET status = 'archived', archived_at = now(), updated_at = now(), last_run_id = $1,
              archived_by_run = $1
       FROM run_plan p
       WHERE p.run_id = $1 AND p.action = 'archive' AND u.id = p.user_id AND u.district_id = $2
         AND u.status = 'active' AND NOT u.protected`,
      [id, districtId],
    );
    const by = new Map(changed.rows.map((r) => [r.action, r.n]));
    return {
      created: created.rowCount ?? 0,
      updated: by.get('update') ?? 0,
      reactivated: by.get('reactivate') ?? 0,
      archived: archived.rowCount ?? 0,
    };
  }
}
