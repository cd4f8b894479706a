import type { Pool } from 'pg';
import { generatePassword, hashPassword } from '../security/password';
import { InvalidPublicKeyError, parsePublicKey } from '../security/ssh-public-key';
import { inTransaction } from '../db/transaction';
import { isUuid } from '../contracts/uuid';

/**
 * Hosted SFTP accounts (one per district, username = the district's slug) and their public keys.
 * Passwords are generated here, returned once in plaintext and stored only as slow hashes.
 */

export interface PublicKeyView {
  id: string;
  algorithm: string;
  fingerprint: string;
  comment: string | null;
  createdAt: Date;
}

export interface SftpAccountView {
  username: string;
  hasPassword: boolean;
  passwordChangedAt: Date | null;
  keyCount: number;
}

/** What the server needs to authenticate a login. Holds a hash: never log or return it. */
export interface SftpLoginAccount {
  districtId: string;
  username: string;
  passwordHash: string | null;
  publicKeys: Array<{ id: string; algorithm: string; publicKey: string; fingerprint: string }>;
}

export const MAX_KEYS_PER_ACCOUNT = 20;

interface KeyRow {
  id: string;
  algorithm: string;
  fingerprint: string;
  comment: string | null;
  created_at: Date;
}

const toView = (row: KeyRow): PublicKeyView => ({
  id: row.id,
  algorithm: row.algorithm,
  fingerprint: row.fingerprint,
  comment: row.comment,
  createdAt: row.created_at,
});

interface AccountRow {
  username: string;
  has_password: boolean;
  password_changed_at: Date | null;
  key_count: number;
}

const toAccountView = (row: AccountRow): SftpAccountView => ({
  username: row.username,
  hasPassword: row.has_password,
  passwordChangedAt: row.password_changed_at,
  keyCount: row.key_count,
});

interface LoginRow {
  district_id: string;
  username: string;
  password_hash: string | null;
  keys: Array<{ id: string; algorithm: string; public_key: string; fingerprint: string }>;
}

const toLoginAccount = (row: LoginRow): SftpLoginAccount => ({
  districtId: row.district_id,
  username: row.username,
  passwordHash: row.password_hash,
  publicKeys: row.keys.map((k) => ({
    id: k.id,
    algorithm: k.algorithm,
    publicKey: k.public_key,
    fingerprint: k.fingerprint,
  })),
});

export class SftpAccountsRepository {
  constructor(private readonly pool: Pool) {}

  /** Creates the account if missing; the previous password stops working with this commit. */
  async regeneratePassword(districtId: string, username: string): Promise<string> {
    const password = generatePassword();
    const hash = await hashPassword(password);
    await this.pool.query(
      `INSERT INTO sftp_accounts (district_id, username, password_hash, password_changed_at)
       VALUES ($1, $2, $3, now())
       ON CONFLICT (district_id) DO UPDATE
         SET username = EXCLUDED.username,
             password_hash = EXCLUDED.password_hash,
             password_changed_at = EXCLUDED.password_changed_at`,
      [districtId, username, hash],
    );
    return password;
  }

  async addPublicKey(districtId: string, publicKey: string): Promise<PublicKeyView> {
    const key = parsePublicKey(publicKey);
    return await inTransaction(this.pool, async (client) => {
      // A key-only account still needs its row: the username is what clients log in with.
      await client.query(
        `INSERT INTO sftp_accounts (district_id, username)
       SELECT id, slug FROM districts WHERE id = $1
       ON CONFLICT (district_id) DO NOTHING`,
        [districtId],
      );
      // Serialise additions for this district so the per-account key limit holds under concurrency.
      await client.query('SELECT 1 FROM sftp_accounts WHERE district_id = $1 FOR UPDATE', [districtId]);
      const { rows: countRows } = await client.query<{ n: number; present: boolean }>(
        `SELECT count(*)::int AS n, bool_or(fingerprint = $2) AS present
         FROM sftp_public_keys WHERE district_id = $1`,
        [districtId, key.fingerprint],
      );
      if (!countRows[0].present && countRows[0].n >= MAX_KEYS_PER_ACCOUNT) {
        throw new InvalidPublicKeyError(
          `This account already has ${MAX_KEYS_PER_ACCOUNT} keys; remove one you no longer use first.`,
        );
      }
      // Adding the same key twice is harmless: return the existing entry (the comment may be updated).
      const { rows } = await client.query<KeyRow>(
        `INSERT INTO sftp_public_keys (district_id, algorithm, public_key, fingerprint, comment)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (district_id, fingerprint) DO UPDATE
         SET comment = COALESCE(EXCLUDED.comment, sftp_public_keys.comment)
       RETURNING id, algorithm, fingerprint, comment, created_at`,
        [districtId, key.algorithm, key.canonical, key.fingerprint, key.comment],
      );
      return toView(rows[0]);
    });
  }

  async listPublicKeys(districtId: string): Promise<PublicKeyView[]> {
    const { rows } = await this.pool.query<KeyRow>(
      `SELECT id, algorithm, fingerprint, comment, created_at
         FROM sftp_public_keys WHERE district_id = $1 ORDER BY created_at, id`,
      [districtId],
    );
    return rows.map(toView);
  }

  async removePublicKey(districtId: string, keyId: string): Promise<boolean> {
    if (!isUuid(keyId)) return false;
    const { rowCount } = await this.pool.query(
      'DELETE FROM sftp_public_keys WHERE district_id = $1 AND id = $2',
      [districtId, keyId],
    );
    return (rowCount ?? 0) > 0;
  }

  async getAccount(districtId: string): Promise<SftpAccountView | undefined> {
    const { rows } = await this.pool.query<AccountRow>(
      `SELECT a.username, a.password_hash IS NOT NULL AS has_password, a.password_changed_at,
              (SELECT count(*)::int FROM sftp_public_keys k WHERE k.district_id = a.district_id) AS key_count
         FROM sftp_accounts a WHERE a.district_id = $1`,
      [districtId],
    );
    return rows.map(toAccountView)[0];
  }

  async findByUsername(username: string): Promise<SftpLoginAccount | undefined> {
    const { rows } = await this.pool.query<LoginRow>(
      `SELECT a.district_id, a.username, a.password_hash,
              COALESCE((SELECT json_agg(json_build_object('id', k.id, 'algorithm', k.algorithm,
                                                          'public_key', k.public_key, 'fingerprint', k.fingerprint))
                          FROM sftp_public_keys k WHERE k.district_id = a.district_id), '[]') AS keys
         FROM sftp_accounts a WHERE a.username = $1`,
      [username],
    );
    return rows.map(toLoginAccount)[0];
  }
}
