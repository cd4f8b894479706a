import type { Pool } from 'pg';
import type { PreviousRun } from './notice-policy';

/** Runs that ended as a sync: dry runs are previews and discarded runs never ran. */
const endedAsSync = (t: string): string =>
  `NOT ${t}.dry_run AND ${t}.status IN ('succeeded', 'failed', 'held') AND ${t}.finished_at IS NOT NULL`;

/** What the notice policy needs to know of a district's earlier runs and the notices they got. */
export class NoticeHistoryRepository {
  constructor(private readonly pool: Pool) {}

  /** The district's run that ended as a sync last before `runId` ended (or before now). */
  async previousRun(runId: string): Promise<PreviousRun | null> {
    const { rows } = await this.pool.query<PreviousRun>(
      `SELECT p.id, p.status, p.failure_type AS "failureType", p.file_sha256 AS "fileSha256"
       FROM sync_runs r
       JOIN sync_runs p ON p.district_id = r.district_id AND p.id <> r.id
       WHERE r.id = $1 AND ${endedAsSync('p')} AND p.finished_at <= coalesce(r.finished_at, now())
       ORDER BY p.finished_at DESC
       LIMIT 1`,
      [runId],
    );
    return rows[0] ?? null;
  }

  /**
   * When admins were last mailed about this run's failure (same type, same file) in its current
   * streak: the failed runs since the district's last run that ended otherwise.
   */
  async lastNoticeOfSameFailure(runId: string): Promise<Date | null> {
    const { rows } = await this.pool.query<{ last: Date | null }>(
      `WITH r AS (
         SELECT id, district_id, failure_type, file_sha256, coalesce(finished_at, now()) AS ended
         FROM sync_runs WHERE id = $1
       ), earlier AS (
         SELECT p.id, p.finished_at,
                p.status = 'failed' AND p.failure_type IS NOT DISTINCT FROM r.failure_type
                  AND p.file_sha256 IS NOT DISTINCT FROM r.file_sha256 AS same
         FROM sync_runs p, r
         WHERE p.district_id = r.district_id AND p.id <> r.id AND ${endedAsSync('p')} AND p.finished_at <= r.ended
       ), streak AS (
         SELECT id FROM earlier
         WHERE same AND finished_at > coalesce((SELECT max(finished_at) FROM earlier WHERE NOT same), '-infinity')
       )
       SELECT max(o.created_at) AS last
       FROM streak s JOIN mail_outbox o ON o.run_id = s.id AND o.kind = 'notify'`,
      [runId],
    );
    return rows[0]?.last ?? null;
  }
}
