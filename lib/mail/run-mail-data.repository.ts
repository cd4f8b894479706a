import type { Pool } from 'pg';
import { withCursor } from '../db/cursor';

/** What a run's mail needs of its district and sync config (null: no config saved). */
export interface MailDistrict {
  district_id: string;
  name: string;
  welcome_emails: boolean | null;
  notify_emails: string[] | null;
  notify_on_success: boolean | null;
  stale_feed_hours: number | null;
}

export interface CreatedUser {
  id: string;
  email: string;
  first_name: string;
}

export interface FindingCount {
  code: string;
  warning: boolean;
  count: number;
}

/** The only code that speaks SQL about what a run's mail reads: its district, new users and findings. */
export class RunMailDataRepository {
  constructor(private readonly pool: Pool) {}

  async districtOf(runId: string): Promise<MailDistrict | undefined> {
    const { rows } = await this.pool.query<MailDistrict>(
      `SELECT d.id AS district_id, d.name, c.welcome_emails, c.notify_emails, c.notify_on_success, c.stale_feed_hours
       FROM sync_runs r JOIN districts d ON d.id = r.district_id LEFT JOIN sync_configs c ON c.district_id = d.id
       WHERE r.id = $1`,
      [runId],
    );
    return rows[0];
  }

  /**
   * The active users with an email the run created, `chunk` at a time through one cursor: a single
   * scan of the run's users however many there are (a keyset query per chunk would rescan them).
   */
  async eachCreatedUser(
    runId: string,
    chunk: number,
    each: (users: CreatedUser[]) => Promise<void>,
  ): Promise<void> {
    await withCursor(
      this.pool,
      `SELECT id, email, first_name FROM users
       WHERE created_by_run = $1 AND email IS NOT NULL AND status = 'active'`,
      [runId],
      chunk,
      each,
    );
  }

  /** The run's five most frequent error codes and five most frequent warning codes, errors first. */
  async topFindings(runId: string): Promise<FindingCount[]> {
    // Errors and warnings counted apart: a warning is no problem with the row.
    const { rows } = await this.pool.query<FindingCount>(
      `SELECT code, warning, count FROM (
           SELECT code, severity = 'warning' AS warning, count(*)::int AS count,
                  row_number() OVER (PARTITION BY severity = 'warning' ORDER BY count(*) DESC, code) AS rank
           FROM run_errors WHERE run_id = $1 GROUP BY code, severity = 'warning'
         ) t WHERE rank <= 5 ORDER BY warning, rank`,
      [runId],
    );
    return rows;
  }
}
