import type { Queryable } from '../queryable';

export type UserStatus = 'active' | 'archived';

/** What an admin may see of a user; the row hash and other internals stay out. */
export interface UserView {
  id: string;
  email: string | null;
  firstName: string;
  lastName: string;
  internalId: string | null;
  accountingId: string | null;
  cleverId: string | null;
  role: string | null;
  schoolId: string | null;
  coachEmail: string | null;
  phone: string | null;
  customFields: Record<string, unknown>;
  status: UserStatus;
  protected: boolean;
  archivedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  lastRunId: string | null;
}

/** A run as a user's page names it: enough to tell which run it was and open it. */
export interface UserRunRef {
  id: string;
  trigger: string | null;
  status: string | null;
  dryRun: boolean | null;
  fileName: string | null;
  createdAt: string | null;
  finishedAt: string | null;
}

/** One user with its school and the runs behind it. */
export interface UserDetail extends UserView {
  /** The user's schools (the roster gives one school per user, or none for district-wide roles). */
  schools: Array<{ id: string; name: string }>;
  runs: { created: UserRunRef | null; changed: UserRunRef | null; archived: UserRunRef | null };
}

export interface UserFilter {
  /** A case-insensitive prefix of a name, the email or any id; undefined lists everyone. */
  q?: string;
  status?: UserStatus;
  role?: string;
  limit: number;
  offset: number;
}

const COLUMNS = `u.id, u.email, u.first_name AS "firstName", u.last_name AS "lastName",
  u.internal_id AS "internalId", u.accounting_id AS "accountingId", u.clever_id AS "cleverId", u.role,
  u.school_id AS "schoolId", u.coach_email AS "coachEmail", u.phone, u.custom_fields AS "customFields",
  u.status, u.protected, u.archived_at AS "archivedAt", u.created_at AS "createdAt",
  u.updated_at AS "updatedAt", u.last_run_id AS "lastRunId"`;

/**
 * Each expression has an index of its own (migration user-search-indexes), scoped by district_id,
 * so the prefix search is a bitmap OR of index ranges. The expressions must stay as the indexes spell them.
 */
const SEARCHED = [
  "lower(u.first_name || ' ' || u.last_name)",
  'lower(u.last_name)',
  'lower(u.email)',
  'lower(u.internal_id)',
  'lower(u.accounting_id)',
  'lower(u.clever_id)',
  'u.id::text',
] as const;

/** `prefix%` for LIKE, with LIKE's own characters escaped so they match themselves. */
export function prefixPattern(q: string): string {
  return q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
}

/** The run a column of users names, as JSON, or only its id if the run is gone. */
const runRef = (column: string): string => `CASE WHEN u.${column} IS NULL THEN NULL ELSE coalesce(
    (SELECT json_build_object('id', r.id, 'trigger', r.trigger, 'status', r.status, 'dryRun', r.dry_run,
                              'fileName', r.file_name, 'createdAt', r.created_at, 'finishedAt', r.finished_at)
     FROM sync_runs r WHERE r.id = u.${column} AND r.district_id = u.district_id),
    json_build_object('id', u.${column})) END`;

/** A district's users as an admin reads them; every query is scoped to one district. */
export class UsersRepository {
  constructor(private readonly db: Queryable) {}

  /** The statement and parameters of a listing, apart so a test can EXPLAIN exactly what is run. */
  listQuery(districtId: string, filter: UserFilter): { text: string; count: string; values: unknown[] } {
    const values: unknown[] = [districtId, filter.status ?? null, filter.role ?? null];
    let where =
      'u.district_id = $1 AND ($2::text IS NULL OR u.status = $2) AND ($3::text IS NULL OR u.role = $3)';
    if (filter.q) {
      values.push(prefixPattern(filter.q));
      where += ` AND (${SEARCHED.map((expr) => `${expr} LIKE $4`).join(' OR ')})`;
    }
    const n = values.length;
    return {
      text: `SELECT ${COLUMNS} FROM users u WHERE ${where}
             ORDER BY u.last_name, u.first_name, u.id LIMIT $${n + 1} OFFSET $${n + 2}`,
      count: `SELECT count(*)::int AS n FROM users u WHERE ${where}`,
      values,
    };
  }

  async listForDistrict(
    districtId: string,
    filter: UserFilter,
  ): Promise<{ total: number; users: UserView[] }> {
    const query = this.listQuery(districtId, filter);
    const [{ rows }, count] = await Promise.all([
      this.db.query<UserView>(query.text, [...query.values, filter.limit, filter.offset]),
      this.db.query<{ n: number }>(query.count, query.values),
    ]);
    return { total: count.rows[0].n, users: rows };
  }

  /** undefined when the district has no such user. */
  async get(districtId: string, userId: string): Promise<UserDetail | undefined> {
    const { rows } = await this.db.query<UserDetail>(
      `SELECT ${COLUMNS},
              CASE WHEN s.id IS NULL THEN '[]'::json ELSE json_build_array(json_build_object('id', s.id, 'name', s.name)) END
                AS schools,
              json_build_object('created', ${runRef('created_by_run')}, 'changed', ${runRef('changed_by_run')},
                                'archived', ${runRef('archived_by_run')}) AS runs
       FROM users u LEFT JOIN schools s ON s.id = u.school_id
       WHERE u.district_id = $1 AND u.id = $2`,
      [districtId, userId],
    );
    return rows[0];
  }

  /** Sets the flag the archive step honours; false when the district has no such user. */
  async setProtected(districtId: string, userId: string, value: boolean): Promise<boolean> {
    const res = await this.db.query('UPDATE users SET protected = $3 WHERE district_id = $1 AND id = $2', [
      districtId,
      userId,
      value,
    ]);
    return res.rowCount === 1;
  }
}
