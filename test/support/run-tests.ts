import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, startEmbeddedPostgres } from '../../scripts/dev/embedded-postgres';
import { REPO_ROOT } from './paths';
import { prepareTemplate } from './postgres';

/**
 * Runs the compiled test files with node's test runner against one throwaway Postgres cluster,
 * which it starts on a free loopback port and stops at the end, whatever the outcome.
 * Arguments narrow the run: `npm test -- unit` or `npm test -- sftp`.
 */
function collect(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return collect(full);
    // Only tests whose source still exists: a deleted test must not run from a stale dist/.
    const source = path
      .join(REPO_ROOT, path.relative(path.join(REPO_ROOT, 'dist'), full))
      .replace(/\.js$/, '.ts');
    return entry.name.endsWith('.test.js') && fs.existsSync(source) ? [full] : [];
  });
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const testRoot = path.join(REPO_ROOT, 'dist', 'test');
  const files = collect(testRoot)
    .filter((file) => filters.length === 0 || filters.some((f) => path.relative(testRoot, file).includes(f)))
    .sort();
  if (files.length === 0) {
    console.error(`No test files matched ${filters.join(' ') || '(all)'} under ${testRoot}.`);
    return 1;
  }
  // One cluster per run (by pid), so two test runs on one machine never share or delete each other's.
  const dataDir = path.join(REPO_ROOT, '.data', `test-pg-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const pg = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    database: 'postgres',
    durable: false,
  });
  try {
    await prepareTemplate(pg.url);
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-reporter=spec',
        `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
        ...files,
      ],
      { stdio: 'inherit', env: { ...process.env, TEST_PG_ADMIN_URL: pg.url } },
    );
    const stop = () => child.kill('SIGINT');
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
