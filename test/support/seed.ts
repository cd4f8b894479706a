import crypto from 'node:crypto';
import type { Pool } from 'pg';
import { SyncRunsRepository } from '../../lib/db/repositories/sync-runs.repository';

/** A slug no other district of the test database has. */
export const randomSlug = (prefix = 'd'): string => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;

export interface SeededDistrict {
  id: string;
  slug: string;
}

/**
 * A district row (named after its slug unless a name is given, in Chicago time) with its schools,
 * as tests below the API need one.
 */
export async function seedDistrict(
  pool: Pool,
  district: { slug?: string; name?: string; schools?: readonly string[] } = {},
): Promise<SeededDistrict> {
  const slug = district.slug ?? randomSlug();
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO districts (name, slug, time_zone) VALUES ($1, $2, 'America/Chicago') RETURNING id`,
    [district.name ?? slug, slug],
  );
  for (const name of district.schools ?? [])
    await pool.query('INSERT INTO schools (district_id, name) VALUES ($1, $2)', [rows[0].id, name]);
  return { id: rows[0].id, slug };
}

/**
 * A district and its sync config: `config` names sync_configs columns and their values (the
 * table's defaults for the rest), e.g. `{ source: 'hosted', file_rule: 'latest' }`.
 */
export async function seedDistrictWithConfig(
  pool: Pool,
  config: Record<string, unknown>,
  district: { slug?: string; name?: string; schools?: readonly string[] } = {},
): Promise<SeededDistrict> {
  const seeded = await seedDistrict(pool, district);
  const columns = Object.keys(config);
  await pool.query(
    `INSERT INTO sync_configs (district_id${columns.map((c) => `, ${c}`).join('')})
     VALUES ($1${columns.map((_, i) => `, $${i + 2}`).join('')})`,
    [seeded.id, ...Object.values(config)],
  );
  return seeded;
}

/** The config of a district whose hosted folder is read for its latest file. */
export const HOSTED_LATEST = { source: 'hosted', file_rule: 'latest' } as const;

/** A queued Sync Now run of the district, as the API records one; its id. */
export async function queuedRun(pool: Pool, districtId: string, dryRun = false): Promise<string> {
  return (await new SyncRunsRepository(pool).create({ districtId, trigger: 'sync_now', dryRun })).id;
}
