import type { Queryable } from '../queryable';

export interface School {
  id: string;
  districtId: string;
  name: string;
  createdAt: Date;
}

/** The users a school still has, which keep it from being deleted. */
export interface SchoolMembers {
  active: number;
  archived: number;
}

export type RenameOutcome =
  { renamed: School; previousName: string } | { missing: true } | { duplicate: true };
export type DeleteOutcome = { deleted: School } | { missing: true } | { inUse: SchoolMembers };

const COLUMNS = `id, district_id AS "districtId", name, created_at AS "createdAt"`;

const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown })?.code === '23505';
const isForeignKeyViolation = (err: unknown): boolean => (err as { code?: unknown })?.code === '23503';

/** The only code that speaks SQL about schools. Every query is scoped to one district. */
export class SchoolsRepository {
  constructor(private readonly db: Queryable) {}

  /** Returns undefined when the district already has a school of that name. */
  async create(districtId: string, name: string): Promise<School | undefined> {
    const { rows } = await this.db.query<School>(
      `INSERT INTO schools (district_id, name) VALUES ($1, $2)
       ON CONFLICT (district_id, name) DO NOTHING RETURNING ${COLUMNS}`,
      [districtId, name],
    );
    return rows[0];
  }

  /**
   * Adds every name the district lacks, in one statement; returns the school of each name (distinct
   * names), with `created` false for those that already existed.
   */
  async createMany(
    districtId: string,
    names: readonly string[],
  ): Promise<Map<string, { school: School; created: boolean }>> {
    const { rows } = await this.db.query<School & { created: boolean }>(
      `WITH wanted AS (SELECT DISTINCT unnest($2::text[]) AS name),
       added AS (
         INSERT INTO schools (district_id, name) SELECT $1, name FROM wanted
         ON CONFLICT (district_id, name) DO NOTHING RETURNING ${COLUMNS}
       )
       SELECT *, true AS created FROM added
       UNION ALL
       SELECT ${COLUMNS}, false AS created FROM schools
       WHERE district_id = $1 AND name IN (SELECT name FROM wanted) AND id NOT IN (SELECT id FROM added)`,
      [districtId, names],
    );
    return new Map(rows.map(({ created, ...school }) => [school.name, { school, created }]));
  }

  async listForDistrict(districtId: string): Promise<School[]> {
    const { rows } = await this.db.query<School>(
      `SELECT ${COLUMNS} FROM schools WHERE district_id = $1 ORDER BY name, id`,
      [districtId],
    );
    return rows;
  }

  async rename(districtId: string, schoolId: string, name: string): Promise<RenameOutcome> {
    try {
      // The self-join's row is the one before the update: the audit keeps the old name.
      const { rows } = await this.db.query<School & { previousName: string }>(
        `UPDATE schools s SET name = $3 FROM schools old
         WHERE s.district_id = $1 AND s.id = $2 AND old.id = s.id
         RETURNING s.id, s.district_id AS "districtId", s.name, s.created_at AS "createdAt", old.name AS "previousName"`,
        [districtId, schoolId, name],
      );
      if (!rows[0]) return { missing: true };
      const { previousName, ...renamed } = rows[0];
      return { renamed, previousName };
    } catch (err) {
      if (isUniqueViolation(err)) return { duplicate: true };
      throw err;
    }
  }

  /** Deletes a school no user (active or archived) belongs to; otherwise says how many do. */
  async delete(districtId: string, schoolId: string): Promise<DeleteOutcome> {
    try {
      const { rows } = await this.db.query<School>(
        `DELETE FROM schools s WHERE s.district_id = $1 AND s.id = $2
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.school_id = s.id) RETURNING ${COLUMNS}`,
        [districtId, schoolId],
      );
      if (rows[0]) return { deleted: rows[0] };
    } catch (err) {
      // A sync gave the school a user between the check and the delete.
      if (!isForeignKeyViolation(err)) throw err;
    }
    const { rows } = await this.db.query<SchoolMembers & { found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM schools WHERE district_id = $1 AND id = $2) AS found,
              count(*) FILTER (WHERE u.status = 'active')::int AS active,
              count(*) FILTER (WHERE u.status = 'archived')::int AS archived
       FROM users u WHERE u.district_id = $1 AND u.school_id = $2`,
      [districtId, schoolId],
    );
    const { found, active, archived } = rows[0];
    return found ? { inUse: { active, archived } } : { missing: true };
  }
}
