import type { Pool } from 'pg';
import type { UnfinishedUpload } from '../../files/upload-quiet';

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

  async interrupted(serverId: string, districtId: string, path: string): Promise<void> {
    await this.db.query(
      `UPDATE sftp_open_uploads SET interrupted = true WHERE server_id = $1 AND district_id = $2 AND path = $3`,
      [serverId, districtId, path],
    );
  }

  async closed(serverId: string, districtId: string, path: string): Promise<void> {
    await this.db.query(
      `DELETE FROM sftp_open_uploads WHERE server_id = $1 AND district_id = $2 AND path = $3`,
      [serverId, districtId, path],
    );
  }

  /** Extends this server's rows, and drops every expired row (those of servers that died). */
  async renew(serverId: string, leaseMs: number): Promise<void> {
    await this.db.query(
      `UPDATE sftp_open_uploads SET expires_at = now() + $2 * interval '1 millisecond' WHERE server_id = $1`,
      [serverId, leaseMs],
    );
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
