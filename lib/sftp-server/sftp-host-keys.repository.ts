import type { Pool } from 'pg';

export interface HostKeyFingerprint {
  algorithm: string;
  fingerprint: string;
}

/** The only code that speaks SQL about sftp_host_keys: the SFTP server writes it, the API reads it. */
export class SftpHostKeysRepository {
  constructor(private readonly pool: Pool) {}

  /** Replaces the published keys with the ones the server serves now, in one transaction. */
  async publish(keys: readonly HostKeyFingerprint[]): Promise<void> {
    await this.pool.query(
      `WITH served AS (
         SELECT * FROM unnest($1::text[], $2::text[]) AS k(algorithm, fingerprint)
       ), gone AS (
         DELETE FROM sftp_host_keys h WHERE NOT EXISTS (SELECT 1 FROM served s WHERE s.algorithm = h.algorithm)
       )
       INSERT INTO sftp_host_keys (algorithm, fingerprint)
       SELECT algorithm, fingerprint FROM served
       ON CONFLICT (algorithm) DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, published_at = now()
         WHERE sftp_host_keys.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint`,
      [keys.map((k) => k.algorithm), keys.map((k) => k.fingerprint)],
    );
  }

  /** In the order OpenSSH clients prefer them: ed25519 first. */
  async list(): Promise<HostKeyFingerprint[]> {
    const { rows } = await this.pool.query<HostKeyFingerprint>(
      `SELECT algorithm, fingerprint FROM sftp_host_keys
       ORDER BY algorithm = 'ssh-ed25519' DESC, algorithm`,
    );
    return rows;
  }
}
