import type { Pool } from 'pg';
import { type SyncRunRow, SyncRunsRepository } from './sync-runs.repository';

/** Runs a person or script asks for; schedules and uploads are not counted. */
const MANUAL_TRIGGERS = ['sync_now', 'retry'] as const;
export type ManualTrigger = (typeof MANUAL_TRIGGERS)[number];

export type ManualRunAdmission =
  { admitted: true; run: SyncRunRow } | { admitted: false; retryAfterSeconds: number; runsInWindow: number };

/**
 * Creates the run row of a Sync Now or retry unless the district already had `limit` of them in the
 * last `windowSeconds`. The count is derived from sync_runs, so every API replica agrees and there is
 * no counter to keep in step: a run counts once it started; runs still waiting to start count as one,
 * because the district workflow merges them into a single run (the others end discarded as
 * coalesced, and never start). A request that will merge into a waiting run adds no run, so it is
 * admitted even at the limit. A transaction-scoped advisory lock per district makes concurrent
 * requests count one after another.
 */
export class ManualRunsRepository {
  constructor(private readonly pool: Pool) {}

  async createWithinLimit(
    input: { districtId: string; trigger: ManualTrigger; dryRun: boolean; retryOf: string | null },
    limit: number,
    windowSeconds: number,
  ): Promise<ManualRunAdmission> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('manual-runs:' || $1::text, 0))", [
        input.districtId,
      ]);
      const { rows } = await client.query<{ started: number; waiting: boolean; oldest_age: number | null }>(
        `SELECT count(*) FILTER (WHERE started_at IS NOT NULL)::int AS started,
                coalesce(bool_or(started_at IS NULL AND status = 'queued'), false) AS waiting,
                extract(epoch FROM now() - min(created_at)
                  FILTER (WHERE started_at IS NOT NULL OR status = 'queued'))::float8 AS oldest_age
         FROM sync_runs
         WHERE district_id = $1 AND trigger = ANY($2::text[])
           AND created_at > now() - $3 * interval '1 second'`,
        [input.districtId, MANUAL_TRIGGERS, windowSeconds],
      );
      const { started, waiting, oldest_age } = rows[0];
      const runsInWindow = started + (waiting ? 1 : 0);
      if (!waiting && runsInWindow >= limit) {
        await client.query('ROLLBACK');
        const retryAfterSeconds = Math.max(1, Math.ceil(windowSeconds - (oldest_age ?? 0)));
        return { admitted: false, retryAfterSeconds, runsInWindow };
      }
      const run = await new SyncRunsRepository(client).create(input);
      await client.query('COMMIT');
      return { admitted: true, run };
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
