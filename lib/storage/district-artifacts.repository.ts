import type { Pool } from 'pg';
import { FINAL_STATUSES } from '../db/repositories/sync-runs.repository';

export interface DistrictArtifactRow {
  file_ref: string;
  district_id: string;
  sha256: string | null;
  size: number;
  created_at: Date;
}

const COLUMNS = 'file_ref, district_id, sha256, size::float8 AS size, created_at';

/** The only code that speaks SQL about district_artifacts: what each district's kept files weigh. */
export class DistrictArtifactsRepository {
  constructor(private readonly pool: Pool) {}

  async districtOfRun(runId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ district_id: string }>(
      'SELECT district_id FROM sync_runs WHERE id = $1',
      [runId],
    );
    return rows[0]?.district_id;
  }

  async usedBytes(districtId: string): Promise<number> {
    const { rows } = await this.pool.query<{ used: number }>(
      'SELECT COALESCE(sum(size), 0)::float8 AS used FROM district_artifacts WHERE district_id = $1',
      [districtId],
    );
    return rows[0].used;
  }

  async findBySha256(districtId: string, sha256: string): Promise<DistrictArtifactRow | undefined> {
    const { rows } = await this.pool.query<DistrictArtifactRow>(
      `SELECT ${COLUMNS} FROM district_artifacts WHERE district_id = $1 AND sha256 = $2 LIMIT 1`,
      [districtId, sha256],
    );
    return rows[0];
  }

  async find(fileRef: string): Promise<DistrictArtifactRow | undefined> {
    const { rows } = await this.pool.query<DistrictArtifactRow>(
      `SELECT ${COLUMNS} FROM district_artifacts WHERE file_ref = $1`,
      [fileRef],
    );
    return rows[0];
  }

  /** Records a kept file; recording the same ref again (a retried copy) changes nothing. */
  async add(row: {
    fileRef: string;
    districtId: string;
    sha256: string | null;
    size: number;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO district_artifacts (file_ref, district_id, sha256, size) VALUES ($1, $2, $3, $4)
       ON CONFLICT (file_ref) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size`,
      [row.fileRef, row.districtId, row.sha256, row.size],
    );
  }

  /**
   * The district's files that may be released, oldest first: none of them is the file of the
   * district's last applied run, or of a run not yet ended (queued, running, held: it may read it again).
   */
  async releasable(districtId: string): Promise<DistrictArtifactRow[]> {
    const { rows } = await this.pool.query<DistrictArtifactRow>(
      `SELECT ${COLUMNS} FROM district_artifacts a
       WHERE a.district_id = $1
         AND NOT EXISTS (
           SELECT 1 FROM sync_runs r
           WHERE r.district_id = $1 AND r.file_ref = a.file_ref AND r.status <> ALL($2::text[]))
         AND a.file_ref IS DISTINCT FROM (
           SELECT r.file_ref FROM sync_runs r
           WHERE r.district_id = $1 AND r.applied_at IS NOT NULL AND NOT r.dry_run
           ORDER BY r.applied_at DESC LIMIT 1)
       ORDER BY a.created_at, a.file_ref`,
      [districtId, FINAL_STATUSES],
    );
    return rows;
  }

  async remove(fileRef: string): Promise<void> {
    await this.pool.query('DELETE FROM district_artifacts WHERE file_ref = $1', [fileRef]);
  }
}
