import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` in one transaction on a client of its own: COMMIT when it resolves, ROLLBACK when it
 * throws. The client goes back to the pool, unless a statement failed: it may have lost its
 * connection, so the pool drops it.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Runs independent pieces of work at the same time, each in a transaction of its own on a client
 * of its own, so Postgres gives each a core (a whole-district statement uses one). Waits for every
 * piece before it returns or throws the first failure: whatever the caller does next (a retry that
 * clears the run's rows, for one) never overlaps a piece still running.
 */
export async function inParallelTransactions<T extends readonly unknown[]>(
  pool: Pool,
  works: [...{ [K in keyof T]: (client: PoolClient) => Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(works.map((work) => inTransaction(pool, work)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
