import type { Pool } from 'pg';

/**
 * Runs `sql` as a cursor in a read-only transaction and hands `each` its rows `chunk` at a time, so
 * memory holds one chunk whatever the result's size.
 */
export async function withCursor<R>(
  pool: Pool,
  sql: string,
  params: unknown[],
  chunk: number,
  each: (rows: R[]) => Promise<void>,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(`DECLARE rows_cursor NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      const { rows } = await client.query(`FETCH ${chunk} FROM rows_cursor`);
      if (rows.length === 0) break;
      await each(rows as R[]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
