import type { Queryable } from '../queryable';

/** What lists and the issuing response show: never the key or its hash. */
export interface ApiKeyView {
  id: string;
  label: string | null;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What authentication needs. Holds a hash: never log or return it. */
export interface ApiKeyCredential {
  id: string;
  districtId: string;
  keyHash: Buffer;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const VIEW_COLUMNS = `id, label, prefix, created_at AS "createdAt", last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

/** The only code that speaks SQL about api_keys. Keys are generated and hashed by the caller. */
export class ApiKeysRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Stores a new key unless the district already has `maxActive` unrevoked keys (then undefined).
   * The limit keeps a forgotten script from piling up live keys; it is not a hard invariant (two
   * concurrent issues may both pass it), so no lock is taken for it.
   */
  async insert(input: {
    districtId: string;
    label: string | null;
    prefix: string;
    keyHash: Buffer;
    maxActive: number;
  }): Promise<ApiKeyView | undefined> {
    const { rows } = await this.db.query<ApiKeyView>(
      `INSERT INTO api_keys (district_id, label, prefix, key_hash)
       SELECT $1, $2, $3, $4
        WHERE (SELECT count(*) FROM api_keys WHERE district_id = $1 AND revoked_at IS NULL) < $5
       RETURNING ${VIEW_COLUMNS}`,
      [input.districtId, input.label, input.prefix, input.keyHash, input.maxActive],
    );
    return rows[0];
  }

  async listForDistrict(
    districtId: string,
    page: { limit: number; offset: number },
  ): Promise<{ total: number; apiKeys: ApiKeyView[] }> {
    const [{ rows }, count] = await Promise.all([
      this.db.query<ApiKeyView>(
        `SELECT ${VIEW_COLUMNS} FROM api_keys WHERE district_id = $1
         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
        [districtId, page.limit, page.offset],
      ),
      this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys WHERE district_id = $1', [
        districtId,
      ]),
    ]);
    return { total: count.rows[0].n, apiKeys: rows };
  }

  /** Revoking twice keeps the first revocation time. False when the district has no such key. */
  async revoke(districtId: string, keyId: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE district_id = $1 AND id = $2`,
      [districtId, keyId],
    );
    return rowCount === 1;
  }

  /** Every key sharing this prefix (almost always one or none); the caller compares the hashes. */
  async findByPrefix(prefix: string): Promise<ApiKeyCredential[]> {
    const { rows } = await this.db.query<ApiKeyCredential>(
      `SELECT id, district_id AS "districtId", key_hash AS "keyHash", last_used_at AS "lastUsedAt",
              revoked_at AS "revokedAt"
         FROM api_keys WHERE prefix = $1`,
      [prefix],
    );
    return rows;
  }

  /** Records use at most once per `intervalSeconds` per key, so busy keys do not write on every request. */
  async touch(keyId: string, intervalSeconds: number): Promise<void> {
    await this.db.query(
      `UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [keyId, intervalSeconds],
    );
  }
}
