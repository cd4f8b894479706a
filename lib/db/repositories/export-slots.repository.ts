import type { PoolClient } from 'pg';

/**
 * The first key of every report download slot lock: a space of its own, apart from the run guard's
 * (RUN_GUARD_LOCK_SPACE) and from the one-key locks the sync engine and Sync Now take.
 */
const EXPORT_SLOT_LOCK_SPACE = 1_917_006_003;

/**
 * The only code that speaks SQL about report download slots: session advisory locks, one per
 * (holder, slot), held by the very connection that streams the report. Every API replica sees the
 * same locks, and a connection that goes away (a cut download, a crashed replica) frees its slot
 * with it: there is no count to leak.
 */
export class ExportSlotsRepository {
  constructor(private readonly client: PoolClient) {}

  async tryTake(holder: string, slot: number): Promise<boolean> {
    const { rows } = await this.client.query<{ taken: boolean }>(
      'SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken',
      [EXPORT_SLOT_LOCK_SPACE, `${holder}:${slot}`],
    );
    return rows[0].taken;
  }

  async give(holder: string, slot: number): Promise<void> {
    await this.client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [
      EXPORT_SLOT_LOCK_SPACE,
      `${holder}:${slot}`,
    ]);
  }
}
