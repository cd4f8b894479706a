import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { CsvChunkParser } from '../../lib/csv/csv-chunk-parser';
import { createSyncEngineActivities } from '../../activities/sync-engine.activities';
import { migrate } from '../../lib/db/migrate';
import { createPool } from '../../lib/db/pool';
import { SyncRunsRepository } from '../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../lib/storage/artifact-store';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../scripts/dev/embedded-postgres';
import { BENCH_SCHOOLS, writeRoster } from './roster-generator';

/**
 * The sync engine's throughput on a realistic district file, against real Postgres:
 * a first import (everyone created) and an unchanged re-import, each through the real activities
 * (stageFile, planChanges, applyChanges), compared with `psql \copy` of the same file into an
 * UNLOGGED table, the floor for getting these bytes into Postgres at all. Two more floors are
 * printed beside it, so the ratios can be read against what the machine allows: csv-parse alone
 * over the file, and a plain \copy into a table with the users table's indexes.
 *
 *   node dist/bench/sync/bench-sync.js [--rows N]     (default 1,000,000)
 *
 * Uses DATABASE_URL's server when set (a scratch database is created and dropped beside it),
 * otherwise an embedded throwaway cluster.
 */
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]?.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive whole number`);
  return n;
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const rows = arg('rows', 1_000_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sync-'));
  let cluster: EmbeddedPostgres | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    cluster = await startEmbeddedPostgres({
      dataDir: path.join(work, 'pg'),
      port: await freePort(),
      database: 'postgres',
      durable: false,
    });
    adminUrl = cluster.url;
  }
  const dbName = `bench_sync_${crypto.randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  const pool = createPool(dbUrl, 6);
  try {
    await migrate(dbUrl);
    const file = path.join(work, 'roster.csv');
    const writeStarted = Date.now();
    await writeRoster(file, rows);
    const size = fs.statSync(file).size;
    console.log(
      `file: ${rows.toLocaleString()} rows, ${(size / 1e6).toFixed(0)} MB, 50 schools (written in ${sec(Date.now() - writeStarted)})`,
    );

    // psql \copy of the same file into an UNLOGGED table: the reference.
    await pool.query(
      `CREATE UNLOGGED TABLE copy_reference (first_name text, last_name text, email text, internal_id text, school text,
        role text, coach_email text, phone text, department text)`,
    );
    const copyMs = psqlCopy(dbUrl, `copy_reference FROM '${file}' WITH (FORMAT csv, HEADER)`);
    await pool.query('DROP TABLE copy_reference');
    console.log(
      `psql \\copy into an UNLOGGED table: ${sec(copyMs)} (${Math.round(rows / (copyMs / 1000)).toLocaleString()} rows/s)`,
    );

    const floors = await measureFloors(pool, dbUrl, file);
    console.log(
      `floors, the same file with nothing validated or matched:\n` +
        `  csv-parse alone, driven as the reader drives it: ${sec(floors.parseMs)} (${(floors.parseMs / copyMs).toFixed(2)}x \\copy)\n` +
        `  psql \\copy into a logged table with the users table's columns and indexes: ${sec(floors.usersCopyMs)} (${(floors.usersCopyMs / copyMs).toFixed(2)}x \\copy)`,
    );

    const { rows: d } = await pool.query<{ id: string }>(
      "INSERT INTO districts (name, slug, time_zone) VALUES ('Springfield Unified', 'springfield', 'America/Chicago') RETURNING id",
    );
    const districtId = d[0].id;
    await pool.query('INSERT INTO schools (district_id, name) SELECT $1, unnest($2::text[])', [
      districtId,
      BENCH_SCHOOLS,
    ]);
    await pool.query(
      `INSERT INTO sync_configs (district_id, matching_key, coaching_groups) VALUES ($1, 'internal_id', '{individual,school_teachers}')`,
      [districtId],
    );

    // The artifact store is rooted at the work folder so the run reads the generated file in place.
    const artifacts = new ArtifactStore(work);
    const activities = createSyncEngineActivities({ pool, artifacts });
    const runs = new SyncRunsRepository(pool);

    const results: Array<{ label: string; total: number; stages: Record<string, number> }> = [];
    for (const label of ['first import', 'unchanged re-import']) {
      const { runId } = await activities.createRun({ districtId, trigger: 'sync_now', dryRun: false });
      await runs.update(runId, { file_ref: 'roster.csv', file_name: 'roster.csv', file_size: size });
      await activities.startRun({ runId, workflowId: `bench-${runId}` });
      const stages: Record<string, number> = {};
      // CPU time of this process per stage: next to the wall time it tells whether the reader or
      // Postgres is the bottleneck.
      const cpu: Record<string, number> = {};
      const timed = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
        const [wall, used] = [Date.now(), process.cpuUsage()];
        const out = await step();
        stages[name] = Date.now() - wall;
        const spent = process.cpuUsage(used);
        cpu[name] = (spent.user + spent.system) / 1000;
        return out;
      };
      const started = Date.now();
      const stage = await timed('stageFile', () => activities.stageFile({ runId }));
      const plan = await timed('planChanges', () => activities.planChanges({ runId }));
      const applied = await timed('applyChanges', () => activities.applyChanges({ runId }));
      const total = Date.now() - started;
      await activities.finishRun({ runId, status: 'succeeded' });
      const run = await runs.get(runId);
      results.push({ label, total, stages });
      console.log(
        `\n${label}: ${sec(total)} total, ${Math.round(rows / (total / 1000)).toLocaleString()} rows/s, ${(total / copyMs).toFixed(2)}x \\copy`,
      );
      for (const [name, ms] of Object.entries(stages)) {
        console.log(`  ${name.padEnd(14)} ${sec(ms)} (node CPU ${sec(cpu[name])})`);
      }
      console.log(`  detail (ms)    ${JSON.stringify(run?.timings)}`);
      console.log(
        `  rows valid ${stage.rowsValid.toLocaleString()}, with errors ${stage.rowsWithErrors.toLocaleString()}; ` +
          `plan: create ${plan.create}, update ${plan.update}, unchanged ${plan.unchanged}, archive ${plan.archive}; ` +
          `applied: ${JSON.stringify(applied)}`,
      );
    }
    const rss = process.resourceUsage().maxRSS;
    console.log(`\npeak RSS ${mb(rss)}`);
    const [first, second] = results;
    console.log(
      `targets: first import ${(first.total / copyMs).toFixed(2)}x \\copy (<= 4x; storing users alone ${(floors.usersCopyMs / copyMs).toFixed(2)}x), ` +
        `unchanged re-import ${(second.total / copyMs).toFixed(2)}x (<= 3x; csv-parse alone ${(floors.parseMs / copyMs).toFixed(2)}x), ` +
        `peak RSS ${mb(rss)} (<= 300 MB)`,
    );
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await cluster?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Runs `psql \\copy <what>` and returns how long it took, in milliseconds. */
function psqlCopy(dbUrl: string, what: string): number {
  const started = Date.now();
  execFileSync('psql', [dbUrl, '-v', 'ON_ERROR_STOP=1', '-qc', `\\copy ${what}`]);
  return Date.now() - started;
}

/**
 * What no import of this file can go below on this machine, measured the same way as the runs:
 * - parsing: csv-parse over the file, records counted and dropped (the reader adds decoding,
 *   header mapping, validation, hashing and COPY on top);
 * - storing: the file's rows copied straight into a table shaped like users, with its primary key
 *   and its four key indexes and the created-by-run index, WAL-logged like users (a first import
 *   adds foreign-key checks, schools, coaching groups and the plan on top).
 */
async function measureFloors(
  pool: ReturnType<typeof createPool>,
  dbUrl: string,
  file: string,
): Promise<{ parseMs: number; usersCopyMs: number }> {
  let records = 0;
  const parser = new CsvChunkParser(() => records++);
  const parseStarted = Date.now();
  for await (const chunk of fs.createReadStream(file)) parser.push(chunk as Buffer);
  parser.end();
  const parseMs = Date.now() - parseStarted;
  if (records === 0) throw new Error('csv-parse read no records from the benchmark file');

  await pool.query(`CREATE TABLE users_floor (LIKE users INCLUDING DEFAULTS INCLUDING INDEXES)`);
  await pool.query(
    `ALTER TABLE users_floor ADD COLUMN school text, ADD COLUMN department text,
       ALTER COLUMN district_id SET DEFAULT gen_random_uuid()`,
  );
  const usersCopyMs = psqlCopy(
    dbUrl,
    `users_floor (first_name, last_name, email, internal_id, school, role, coach_email, phone, department) FROM '${file}' WITH (FORMAT csv, HEADER)`,
  );
  await pool.query('DROP TABLE users_floor');
  return { parseMs, usersCopyMs };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
