import type { Pool } from 'pg';
import type { UnfinishedUpload } from '../../files/upload-quiet';

/** A file one server process holds unfinished, as it records it. */
export interface HeldUpload {
  districtId: string;
  path: string;
}

/**
 * The only code that speaks SQL about unfinished uploads on the hosted SFTP server
 * (sftp_open_uploads): the server records them, the worker reads them. Paths are relative to the
 * district's folder, without a leading slash, as the worker lists them.
 */
export class OpenUploadsRepository {
  constructor(private readonly db: Pool) {}

  async opened(serverId: string, districtId: string, path: string, leaseMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO sftp_open_uploads (server_id, district_id, path, expires_at)
       VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (district_id, path, server_id)
         DO UPDATE SET expires_at = EXCLUDED.expires_at, interrupted = false, opened_at = now()`,
      [serverId, districtId, path, leaseMs],
    );
  }

  /** Inserted if missing: the open row may have been dropped while the database did not answer. */
  async interrupted(serverId: string, districtId: string, path: string, leaseMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO sftp_open_uploads (server_id, district_id, path, interrupted, expires_at)
       VALUES ($1, $2, $3, true, now() + $4 * interval '1 millisecond')
       ON CONFLICT (district_id, path, server_id) DO UPDATE SET interrupted = true`,
      [serverId, districtId, path, leaseMs],
    );
  }

  /**
   * Nothing unfinished at this name any more: this server's row goes, and so does an interrupted
   * mark left by any server (the upload cut off there was finished here).
   */
  async closed(serverId: string, districtId: string, path: string): Promise<void> {
    await this.db.query(
      `DELETE FROM sftp_open_uploads
       WHERE district_id = $2 AND path = $3 AND (server_id = $1 OR interrupted)`,
      [serverId, districtId, path],
    );
  }

  /**
   * Extends this server's rows and writes back every file it holds open, even if its row was
   * dropped (expired while the database did not answer). Returns the rows of this server it found.
   */
  async renew(serverId: string, leaseMs: number, open: readonly HeldUpload[]): Promise<HeldUpload[]> {
    await this.db.query(
      `INSERT INTO sftp_open_uploads (server_id, district_id, path, expires_at)
       SELECT $1, held.district_id, held.path, now() + $2 * interval '1 millisecond'
       FROM unnest($3::uuid[], $4::text[]) AS held (district_id, path)
       ON CONFLICT (district_id, path, server_id)
         DO UPDATE SET expires_at = EXCLUDED.expires_at, interrupted = false`,
      [serverId, leaseMs, open.map((u) => u.districtId), open.map((u) => u.path)],
    );
    const { rows } = await this.db.query<{ district_id: string; path: string }>(
      `UPDATE sftp_open_uploads SET expires_at = now() + $2 * interval '1 millisecond'
       WHERE server_id = $1 RETURNING district_id, path`,
      [serverId, leaseMs],
    );
    return rows.map((r) => ({ districtId: r.district_id, path: r.path }));
  }

  /** Writes back interrupted marks of this server that were dropped as expired. */
  async restoreInterrupted(serverId: string, leaseMs: number, lost: readonly HeldUpload[]): Promise<void> {
    if (lost.length === 0) return;
    await this.db.query(
      `INSERT INTO sftp_open_uploads (server_id, district_id, path, interrupted, expires_at)
       SELECT $1, held.district_id, held.path, true, now() + $2 * interval '1 millisecond'
       FROM unnest($3::uuid[], $4::text[]) AS held (district_id, path)
       ON CONFLICT (district_id, path, server_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [serverId, leaseMs, lost.map((u) => u.districtId), lost.map((u) => u.path)],
    );
  }

  /** Drops every expired row (those of servers that died). */
  async dropExpired(): Promise<void> {
    await this.db.query(`DELETE FROM sftp_open_uploads WHERE expires_at < now()`);
  }

  async releaseAll(serverId: string): Promise<void> {
    await this.db.query(`DELETE FROM sftp_open_uploads WHERE server_id = $1`, [serverId]);
  }

  /** The district's unfinished uploads by path, as live servers know them; open wins over interrupted. */
  async unfinished(districtId: string): Promise<Map<string, UnfinishedUpload>> {
    const { rows } = await this.db.query<{ path: string; interrupted: boolean }>(
      `SELECT path, bool_and(interrupted) AS interrupted FROM sftp_open_uploads
       WHERE district_id = $1 AND expires_at > now() GROUP BY path`,
      [districtId],
    );
    return new Map(rows.map((r) => [r.path, r.interrupted ? 'interrupted' : 'open']));
  }
}
