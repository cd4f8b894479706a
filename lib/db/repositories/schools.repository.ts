import type { Queryable } from '../queryable';

export interface School {
  id: string;
  districtId: string;
  name: string;
  createdAt: Date;
}

const COLUMNS = `id, district_id AS "districtId", name, created_at AS "createdAt"`;

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

  async listForDistrict(districtId: string): Promise<School[]> {
    const { rows } = await this.db.query<School>(
      `SELECT ${COLUMNS} FROM schools WHERE district_id = $1 ORDER BY name, id`,
      [districtId],
    );
    return rows;
  }
}
