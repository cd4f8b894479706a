import { Pool, types } from 'pg';

// bigint counts (COUNT(*), file sizes) fit comfortably in a JS number for our volumes.
types.setTypeParser(types.builtins.INT8, (value) => Number(value));
// Keep DATE columns as 'YYYY-MM-DD' strings: a district's start date is a calendar date, not an instant.
types.setTypeParser(types.builtins.DATE, (value) => value);

export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max, application_name: 'rostersync' });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
