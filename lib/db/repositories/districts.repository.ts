import type { Queryable } from '../queryable';

export interface District {
  id: string;
  name: string;
  slug: string;
  timeZone: string;
  createdAt: Date;
}

const COLUMNS = `id, name, slug, time_zone AS "timeZone", created_at AS "createdAt"`;

/** The only code that speaks SQL about districts. */
export class DistrictsRepository {
  constructor(private readonly db: Queryable) {}

  /** Returns undefined when the slug is taken: the slug is the district's unique key (and SFTP username). */
  async create(input: { name: string; slug: string; timeZone: string }): Promise<District | undefined> {
    const { rows } = await this.db.query<District>(
      `INSERT INTO districts (name, slug, time_zone) VALUES ($1, $2, $3)
       ON CONFLICT (slug) DO NOTHING RETURNING ${COLUMNS}`,
      [input.name, input.slug, input.timeZone],
    );
    return rows[0];
  }

  async get(id: string): Promise<District | undefined> {
    const { rows } = await this.db.query<District>(`SELECT ${COLUMNS} FROM districts WHERE id = $1`, [id]);
    return rows[0];
  }

  async list(page: { limit: number; offset: number }): Promise<{ total: number; districts: District[] }> {
    const [{ rows }, count] = await Promise.all([
      this.db.query<District>(`SELECT ${COLUMNS} FROM districts ORDER BY name, id LIMIT $1 OFFSET $2`, [
        page.limit,
        page.offset,
      ]),
      this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM districts'),
    ]);
    return { total: count.rows[0].n, districts: rows };
  }
}
