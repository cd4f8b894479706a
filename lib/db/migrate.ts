import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { Env, loadEnvPart } from '../config/env';

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

/** The one setting `npm run migrate` reads: the database to migrate. */
const MigrateEnv = Env.pick({ DATABASE_URL: true });

if (require.main === module) {
  Promise.resolve()
    .then(() => migrate(loadEnvPart(MigrateEnv, process.env).DATABASE_URL, (msg) => console.log(msg)))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
