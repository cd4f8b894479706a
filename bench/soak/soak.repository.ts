import type { Pool } from 'pg';

/** Every statement the soak's checks read the database with. */
export interface RunRow {
  id: string;
  districtId: string;
  status: string;
  stage: string | null;
  failureType: string | null;
  failureMessage: string | null;
  createdMs: number;
  finishedMs: number | null;
  /** Set once the run's apply committed. */
  applied: boolean;
}

export async function runRows(pool: Pool): Promise<RunRow[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT id, district_id AS "districtId", status, stage, failure_type AS "failureType",
            failure_message AS "failureMessage",
            (extract(epoch FROM created_at) * 1000)::float8 AS "createdMs",
            (extract(epoch FROM finished_at) * 1000)::float8 AS "finishedMs",
            applied_at IS NOT NULL AS applied
       FROM sync_runs`,
  );
  return rows;
}

/** Active users of one district sharing a value of the district's matching key. */
export async function duplicateActiveUsers(
  pool: Pool,
): Promise<Array<{ districtId: string; key: string; users: number }>> {
  const { rows } = await pool.query<{ districtId: string; key: string; users: number }>(
    `SELECT u.district_id AS "districtId", k.key, count(*)::int AS users
       FROM users u
       JOIN sync_configs c ON c.district_id = u.district_id
       CROSS JOIN LATERAL (SELECT CASE c.matching_key
                                    WHEN 'email' THEN lower(u.email)
                                    WHEN 'internal_id' THEN u.internal_id
                                    WHEN 'accounting_id' THEN u.accounting_id
                                    WHEN 'clever_id' THEN u.clever_id
                                    ELSE u.id::text
                                  END AS key) k
      WHERE u.status = 'active' AND k.key IS NOT NULL
      GROUP BY u.district_id, k.key
     HAVING count(*) > 1`,
  );
  return rows;
}

/**
 * Runs whose users rows disagree with what they report: a succeeded run whose created count is not
 * the number of users it created, or a run that ended without succeeding yet created users
 * (half-applied). A run still running is the business of the check on unfinished runs.
 */
export async function createdCountMismatches(
  pool: Pool,
): Promise<Array<{ runId: string; status: string; reported: number | null; users: number }>> {
  const { rows } = await pool.query<{
    runId: string;
    status: string;
    reported: number | null;
    users: number;
  }>(
    `SELECT r.id AS "runId", r.status, r.created_count AS reported, count(u.id)::int AS users
       FROM sync_runs r
       LEFT JOIN users u ON u.created_by_run = r.id
      GROUP BY r.id, r.status, r.created_count
     HAVING (r.status = 'succeeded' AND coalesce(r.created_count, 0) <> count(u.id))
         OR (r.status IN ('failed', 'held', 'discarded') AND count(u.id) > 0)`,
  );
  return rows;
}

export async function activeEmails(pool: Pool, districtIds: string[]): Promise<Map<string, Set<string>>> {
  const { rows } = await pool.query<{ districtId: string; email: string }>(
    `SELECT district_id AS "districtId", lower(email) AS email
       FROM users
      WHERE status = 'active' AND district_id = ANY($1::uuid[])`,
    [districtIds],
  );
  const byDistrict = new Map<string, Set<string>>(districtIds.map((id) => [id, new Set()]));
  for (const row of rows) byDistrict.get(row.districtId)?.add(row.email);
  return byDistrict;
}

/** Users that runs created, for comparing with the welcome mail that arrived. */
export async function createdUserCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ users: number }>(
    `SELECT count(*)::int AS users FROM users WHERE created_by_run IS NOT NULL`,
  );
  return rows[0].users;
}

/** Mail the outbox still means to send (neither sent nor refused for good). */
export async function pendingMail(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ pending: number }>(
    `SELECT count(*)::int AS pending FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL`,
  );
  return rows[0].pending;
}
