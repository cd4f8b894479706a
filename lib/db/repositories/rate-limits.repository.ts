import type { Pool } from 'pg';

export interface RateLimitHit {
  /** Hits in the current window, this one included. */
  hits: number;
  /** Seconds until the window starts over (at least 1). */
  windowEndsInSeconds: number;
}

/**
 * The only code that speaks SQL about api_rate_limits: fixed-window counters shared by every API
 * replica. One upsert counts a request against all its keys at once, starting a new window for a
 * key whose last one has passed.
 */
export class RateLimitsRepository {
  constructor(private readonly db: Pool) {}

  /** Counts one hit on each of `keys` (distinct), in one statement; the hits come back in that order. */
  async hit(keys: readonly string[], windowMs: number): Promise<RateLimitHit[]> {
    const { rows } = await this.db.query<{ key: string; hits: number; window_ends_in: number }>(
      `INSERT INTO api_rate_limits AS r (key, hits, window_ends_at)
       SELECT k, 1, now() + $2 * interval '1 millisecond' FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN r.window_ends_at <= now() THEN 1 ELSE r.hits + 1 END,
         window_ends_at = CASE WHEN r.window_ends_at <= now() THEN EXCLUDED.window_ends_at
                               ELSE r.window_ends_at END
       RETURNING key, hits, ceil(extract(epoch FROM window_ends_at - now()))::int AS window_ends_in`,
      [keys, windowMs],
    );
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return keys.map((key) => {
      const row = byKey.get(key);
      if (!row) throw new Error(`no counter came back for ${key}`);
      return { hits: row.hits, windowEndsInSeconds: Math.max(1, row.window_ends_in) };
    });
  }

  /** Forgets counters whose window is over; returns how many went. */
  async deleteExpired(): Promise<number> {
    const res = await this.db.query('DELETE FROM api_rate_limits WHERE window_ends_at < now()');
    return res.rowCount ?? 0;
  }
}
