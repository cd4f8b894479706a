import type { Pool, PoolClient } from 'pg';
import type { MatchingKey } from '../contracts/sync-config';
import { BULK_WORK_MEM } from './apply.repository';
import { userKeySql } from './matching-key';
import { assertRunId, stagePartition } from './run-id';
import { inParallelTransactions, inTransaction } from '../db/transaction';
import type { Fence } from './run-guard';
import { UUID_SQL_PATTERN } from '../contracts/uuid';

export type PlanAction = 'create' | 'update' | 'reactivate' | 'archive';
export const PLAN_ACTIONS: readonly PlanAction[] = ['create', 'update', 'reactivate', 'archive'];

export type PlanCounts = Record<PlanAction, number>;

export interface PlanSample {
  row: number | null;
  userId: string;
  key: string | null;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  changed: string[];
}

/** Columns compared to explain an update (the row hash decides whether there is one). */
const CHANGED_FIELDS: ReadonlyArray<[string, string]> = [
  ['first_name', 'cur.first_name IS DISTINCT FROM t.first_name'],
  ['last_name', 'cur.last_name IS DISTINCT FROM t.last_name'],
  ['email', 'cur.email IS DISTINCT FROM t.email'],
  ['internal_id', 'cur.internal_id IS DISTINCT FROM t.internal_id'],
  ['accounting_id', 'cur.accounting_id IS DISTINCT FROM t.accounting_id'],
  ['clever_id', 'cur.clever_id IS DISTINCT FROM t.clever_id'],
  ['role', 'cur.role IS DISTINCT FROM t.role'],
  ['school', 'cur.school_id IS DISTINCT FROM sc.id'],
  ['coach_email', 'cur.coach_email IS DISTINCT FROM t.coach_email'],
  ['phone', 'cur.phone IS DISTINCT FROM t.phone'],
  ['custom_fields', 'cur.custom_fields IS DISTINCT FROM t.custom::jsonb'],
];

/**
 * The set-based diff between a run's staging rows and the district's users. The plan is written
 * to run_plan (kept for download and applied as reviewed); unchanged rows are only counted.
 */
export class PlanRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Replaces the run's plan (a retried step starts over). The rows of the file (creates, updates,
   * reactivations) and the users missing from it (archives) are two independent whole-district
   * statements, so they run side by side, each in a transaction of its own; a step that fails half
   * way is retried from the DELETE, and nothing reads a plan before the step has returned. Each
   * transaction starts with the fence, so only the attempt holding the run's guard writes a plan.
   * Right after a large apply the users table's statistics are stale and the planner would pick a
   * nested loop over a million users (hours instead of seconds), so nested loops are turned off.
   */
  async plan(runId: string, districtId: string, key: MatchingKey, fence: Fence): Promise<PlanCounts> {
    await inTransaction(this.pool, async (client) => {
      await fence(client);
      await client.query('DELETE FROM run_plan WHERE run_id = $1', [assertRunId(runId)]);
    });
    const [rows, archive] = await inParallelTransactions<[Omit<PlanCounts, 'archive'>, number]>(this.pool, [
      async (client) => {
        await fence(client);
        await bulkSettings(client);
        return await this.planRows(client, runId, districtId, key);
      },
      async (client) => {
        await fence(client);
        await bulkSettings(client);
        return await this.planArchives(client, runId, districtId, key);
      },
    ]);
    return { ...rows, archive };
  }

  /** Rows of the file: creates, updates and reactivations. */
  private async planRows(
    db: PoolClient,
    runId: string,
    districtId: string,
    key: MatchingKey,
  ): Promise<Omit<PlanCounts, 'archive'>> {
    const id = assertRunId(runId);
    const userKey = userKeySql(key);
    // With Platform ID as the key, a new user takes the id the file gives (when it is a free UUID),
    // so the same row matches it on the next run instead of creating it again.
    const newId =
      key === 'platform_id'
        ? `CASE WHEN t.match_key ~ '${UUID_SQL_PATTERN}'
                AND NOT EXISTS (SELECT 1 FROM users x WHERE x.id = t.match_key::uuid)
           THEN t.match_key::uuid ELSE gen_random_uuid() END`
        : 'gen_random_uuid()';
    const changed = CHANGED_FIELDS.map(([name, cond]) => `CASE WHEN ${cond} THEN '${name}' END`).join(', ');
    const { rows } = await db.query<{ action: PlanAction; n: number }>(
      `WITH m AS (
         -- One user per key: an active profile wins over an archived one, then the latest touched.
         -- Sorted bytewise (COLLATE "C"): only equal keys need to meet, and a locale-aware sort of
         -- a million keys takes twice as long.
         SELECT DISTINCT ON (k) (${userKey}) COLLATE "C" AS k, u.id AS uid, u.status, u.row_hash
         FROM users u WHERE u.district_id = $2 AND ${userKey} IS NOT NULL
         ORDER BY k, (u.status = 'active') DESC, u.updated_at DESC
       ), todo AS MATERIALIZED (
         -- Only rows with something to do reach the join with users' full rows below: on an
         -- unchanged re-import that is none, instead of every user of the district.
         SELECT s.*, m.uid, m.status
         FROM ${stagePartition(id)} s LEFT JOIN m ON m.k = s.match_key
         WHERE NOT s.has_error
           AND (m.uid IS NULL OR m.status = 'archived' OR m.row_hash IS DISTINCT FROM s.row_hash)
       ), ins AS (
         INSERT INTO run_plan (run_id, action, user_id, row_number, key, email, first_name, last_name, changed)
         SELECT $1,
                CASE WHEN t.uid IS NULL THEN 'create' WHEN t.status = 'archived' THEN 'reactivate' ELSE 'update' END,
                COALESCE(t.uid, ${newId}),
                t.row_number, t.match_key, t.email, t.first_name, t.last_name,
                CASE WHEN t.uid IS NULL THEN '{}'::text[] ELSE array_remove(ARRAY[${changed}], NULL) END
         FROM todo t
         LEFT JOIN users cur ON cur.id = t.uid
         LEFT JOIN schools sc ON sc.district_id = $2 AND sc.name = t.school
         RETURNING action
       )
       SELECT action, count(*)::int AS n FROM ins GROUP BY action`,
      [id, districtId],
    );
    const { create, update, reactivate } = toCounts(rows);
    return { create, update, reactivate };
  }

  /**
   * Users of the district no row of the file names: archived, except protected users. Keys of rows
   * with errors count as present, so a user is never archived because their row had an error.
   */
  private async planArchives(
    db: PoolClient,
    runId: string,
    districtId: string,
    key: MatchingKey,
  ): Promise<number> {
    const id = assertRunId(runId);
    const userKey = userKeySql(key);
    const res = await db.query(
      `INSERT INTO run_plan (run_id, action, user_id, key, email, first_name, last_name)
       SELECT $1, 'archive', u.id, ${userKey}, u.email, u.first_name, u.last_name
       FROM users u
       WHERE u.district_id = $2 AND u.status = 'active' AND NOT u.protected
         AND NOT EXISTS (SELECT 1 FROM ${stagePartition(id)} s WHERE s.match_key = ${userKey})`,
      [id, districtId],
    );
    return res.rowCount ?? 0;
  }

  async counts(runId: string): Promise<PlanCounts> {
    const { rows } = await this.pool.query<{ action: PlanAction; n: number }>(
      'SELECT action, count(*)::int AS n FROM run_plan WHERE run_id = $1 GROUP BY action',
      [assertRunId(runId)],
    );
    return toCounts(rows);
  }

  async activeUsers(districtId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM users WHERE district_id = $1 AND status = 'active'",
      [districtId],
    );
    return rows[0].n;
  }

  /** The first few rows of each action in file order, for the run's page and the review screen. */
  async samples(runId: string, perAction = 5): Promise<Record<PlanAction, PlanSample[]>> {
    const id = assertRunId(runId);
    const out = {} as Record<PlanAction, PlanSample[]>;
    for (const action of PLAN_ACTIONS) {
      const { rows } = await this.pool.query<{
        row_number: number | null;
        user_id: string;
        key: string | null;
        email: string | null;
        first_name: string | null;
        last_name: string | null;
        changed: string[];
      }>(
        `SELECT row_number, user_id, key, email, first_name, last_name, changed
         FROM run_plan WHERE run_id = $1 AND action = $2
         ORDER BY row_number NULLS LAST, key LIMIT $3`,
        [id, action, perAction],
      );
      out[action] = rows.map((r) => ({
        row: r.row_number,
        userId: r.user_id,
        key: r.key,
        email: r.email,
        firstName: r.first_name,
        lastName: r.last_name,
        changed: r.changed,
      }));
    }
    return out;
  }
}

/** Hash joins in memory over the whole district and the whole file. */
async function bulkSettings(db: PoolClient): Promise<void> {
  await db.query('SET LOCAL enable_nestloop = off');
  await db.query(`SET LOCAL work_mem = '${BULK_WORK_MEM}'`);
}

function toCounts(rows: Array<{ action: PlanAction; n: number }>): PlanCounts {
  const counts: PlanCounts = { create: 0, update: 0, reactivate: 0, archive: 0 };
  for (const r of rows) counts[r.action] = r.n;
  return counts;
}
