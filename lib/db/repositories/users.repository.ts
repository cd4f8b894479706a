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

const COLUMNS = `id, email, first_name AS "firstName", last_name AS "lastName", internal_id AS "internalId",
  accounting_id AS "accountingId", clever_id AS "cleverId", role, school_id AS "schoolId",
  coach_email AS "coachEmail", phone, custom_fields AS "customFields", status, protected,
  archived_at AS "archivedAt", created_at AS "createdAt", updated_at AS "updatedAt", last_run_id AS "lastRunId"`;

/** Read-only listing of a district's users, so an admin can see what a sync did. */
export class UsersRepository {
  constructor(private readonly db: Queryable) {}

  async listForDistrict(
    districtId: string,
    filter: { status?: UserStatus; limit: number; offset: number },
  ): Promise<{ total: number; users: UserView[] }> {
    const status = filter.status ?? null;
    const [{ rows }, count] = await Promise.all([
      this.db.query<UserView>(
        `SELECT ${COLUMNS} FROM users WHERE district_id = $1 AND ($2::text IS NULL OR status = $2)
         ORDER BY last_name, first_name, id LIMIT $3 OFFSET $4`,
        [districtId, status, filter.limit, filter.offset],
      ),
      this.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM users WHERE district_id = $1 AND ($2::text IS NULL OR status = $2)',
        [districtId, status],
      ),
    ]);
    return { total: count.rows[0].n, users: rows };
  }
}
