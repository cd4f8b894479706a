import type { Pool } from 'pg';
import { inTransaction } from '../transaction';
import { type SyncRunRow, SyncRunsRepository } from './sync-runs.repository';

/** Runs a person or script asks for; schedules and uploads are not counted. */
const MANUAL_TRIGGERS = ['sync_now', 'retry'] as const;
export type ManualTrigger = (typeof MANUAL_TRIGGERS)[number];

export type ManualRunAdmission =
  | { outcome: 'created'; run: SyncRunRow }
  /** A run of the district is already queued and will do what was asked: nothing was created. */
  | { outcome: 'joined'; runId: string }
  | { outcome: 'refused'; retryAfterSeconds: number; runsInWindow: number };

/**
 * Creates the run row of a Sync Now or retry unless the district already had `limit` of them in the
 * last `windowSeconds`, or one of them is queued and not started yet. The count is derived from
 * sync_runs, so every API replica agrees and there is no counter to keep in step: a run counts once
 * it started, and a queued one as one more. A request arriving while a run is queued joins it (the
 * district workflow would merge them anyway) and creates nothing, so queued requests cannot grow
 * the table; only a queued dry run does not take a real request, which must not lose its apply. A
 * retry joins only a queued retry of the same failed run: retrying another failed run is its own run.
 * Runs queued longer than the window are not joined, so a row whose signal never reached the
 * workflow cannot swallow every later request. A transaction-scoped advisory lock per district
 * makes concurrent requests check and count one after another, so the limit is exact.
 */
export class ManualRunsRepository {
  constructor(private readonly pool: Pool) {}

  async createWithinLimit(
    input: { districtId: string; trigger: ManualTrigger; dryRun: boolean; retryOf: string | null },
    limit: number,
    windowSeconds: number,
  ): Promise<ManualRunAdmission> {
    // Nothing is written but the new run: a joined or refused request commits nothing else.
    return await inTransaction<ManualRunAdmission>(this.pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('manual-runs:' || $1::text, 0))", [
        input.districtId,
      ]);
      const { rows } = await client.query<{
        started: number;
        waiting: boolean;
        joinable: string | null;
        oldest_age: number | null;
      }>(
        `SELECT count(*) FILTER (WHERE started_at IS NOT NULL)::int AS started,
              coalesce(bool_or(started_at IS NULL AND status = 'queued'), false) AS waiting,
              (array_agg(id ORDER BY created_at DESC)
                FILTER (WHERE started_at IS NULL AND status = 'queued' AND (NOT dry_run OR $4)
                        AND ($5::uuid IS NULL OR retry_of = $5)))[1] AS joinable,
              extract(epoch FROM now() - min(created_at)
                FILTER (WHERE started_at IS NOT NULL OR status = 'queued'))::float8 AS oldest_age
       FROM sync_runs
       WHERE district_id = $1 AND trigger = ANY($2::text[])
         AND created_at > now() - $3 * interval '1 second'`,
        [input.districtId, MANUAL_TRIGGERS, windowSeconds, input.dryRun, input.retryOf],
      );
      const { started, waiting, joinable, oldest_age } = rows[0];
      if (joinable !== null) {
        return { outcome: 'joined', runId: joinable };
      }
      const runsInWindow = started + (waiting ? 1 : 0);
      if (!waiting && runsInWindow >= limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil(windowSeconds - (oldest_age ?? 0)));
        return { outcome: 'refused', retryAfterSeconds, runsInWindow };
      }
      const run = await new SyncRunsRepository(client).create(input);
      return { outcome: 'created', run };
    });
  }
}
