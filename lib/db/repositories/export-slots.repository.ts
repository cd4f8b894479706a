import type { PoolClient } from 'pg';

/**
 * The only code that speaks SQL about report download slots: session advisory locks, one per
 * (credential, slot), held by the very connection that streams the report. Every API replica sees
 * the same locks, and a connection that goes away (a cut download, a crashed replica) frees its slot
 * with it: there is no count to leak. The two-key form keeps these apart from the one-key locks
 * the sync engine takes.
 */
export class ExportSlotsRepository {
  constructor(private readonly client: PoolClient) {}

  async tryTake(holder: string, slot: number): Promise<boolean> {
    const { rows } = await this.client.query<{ taken: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1), $2) AS taken',
      [`report-download:${holder}`, slot],
    );
    return rows[0].taken;
  }

  async give(holder: string, slot: number): Promise<void> {
    await this.client.query('SELECT pg_advisory_unlock(hashtext($1), $2)', [
      `report-download:${holder}`,
      slot,
    ]);
  }
}
