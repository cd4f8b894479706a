import path from 'node:path';
import { runner } from 'node-pg-migrate';

/** Migrations live beside this module's source (copied next to the compiled JS is not needed: we read the .sql files). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../../lib/db/migrations');

export async function migrate(
  databaseUrl: string,
  log: (msg: string) => void = () => undefined,
): Promise<void> {
  await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    log,
    verbose: false,
    checkOrder: true,
  });
}

if (require.main === module) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is not set: point it at the Postgres database to migrate.');
    process.exit(1);
  }
  migrate(url, (msg) => console.log(msg)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
