import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * A throwaway or persistent Postgres cluster run from the machine's PostgreSQL binaries, on loopback only.
 * Postgres refuses to run as root, so as root the cluster belongs to the unprivileged `postgres` user.
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const SEARCH_DIRS = [
  '/usr/lib/postgresql/17/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/15/bin',
  '/usr/local/pgsql/bin',
];

export function findPostgresBin(): string {
  const fromEnv = process.env.PG_BIN;
  const candidates = fromEnv ? [fromEnv] : SEARCH_DIRS;
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'pg_ctl'))) return dir;
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (initdb) return path.dirname(initdb);
  } catch {
    // fall through to the error below
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) were not found. Install PostgreSQL 15+ (apt-get install postgresql), ' +
      'set PG_BIN to their folder, or set DATABASE_URL to an existing database.',
  );
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function asOwner(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function run(bin: string, args: string[]): string {
  const [cmd, argv] = asOwner(bin, args);
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function assertPortFree(port: number, host = '127.0.0.1', setting = 'port'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `Port ${port} on ${host} is already in use. Stop what uses it or set ${setting} to a free port.`
            : `Cannot listen on ${host}:${port} (${err.message}); set ${setting} to another port.`,
        ),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Settings for imports of a million rows (the defaults are sized for a 1990s machine): shared
 * buffers that hold a large district's users and their indexes, and WAL room so a million-row apply
 * is not interrupted by forced checkpoints (the default max_wal_size of 1GB is reached half-way).
 * Shared memory is only touched as it is used, so small test clusters stay small.
 * docs/sync-engine.md lists the recommended production values.
 */
const BULK_SETTINGS = [
  'shared_buffers=1GB',
  'wal_buffers=64MB',
  'max_wal_size=8GB',
  'checkpoint_timeout=30min',
  'maintenance_work_mem=256MB',
]
  .map((s) => `-c ${s}`)
  .join(' ');

/** Starts (creating on first use) the cluster in `dataDir`; the data survives a stop. */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  database?: string;
  portSetting?: string;
  /** Tests trade crash safety for speed; the dev stack keeps Postgres durable. */
  durable?: boolean;
}): Promise<EmbeddedPostgres> {
  const bin = findPostgresBin();
  const dataDir = path.resolve(opts.dataDir);
  const database = opts.database ?? 'rostersync';
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  if (isRoot()) {
    // The postgres user must be able to reach the data folder through every parent.
    for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const mode = fs.statSync(dir).mode;
      if ((mode & 0o001) === 0) fs.chmodSync(dir, mode | 0o001);
    }
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (isRoot()) execFileSync('chown', ['postgres:postgres', dataDir]);
    run(path.join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]);
  }
  await assertPortFree(opts.port, '127.0.0.1', opts.portSetting ?? 'the Postgres port');
  const logFile = path.join(dataDir, 'server.log');
  const [cmd, argv] = asOwner(path.join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-l',
    logFile,
    '-w',
    '-t',
    '60',
    '-o',
    `-h 127.0.0.1 -p ${opts.port} -k ${dataDir} ${BULK_SETTINGS}${opts.durable === false ? ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off' : ''}`,
    'start',
  ]);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`Postgres did not start (exit ${code}); see ${logFile}`)),
    );
  });
  const adminUrl = `postgres://postgres@127.0.0.1:${opts.port}/postgres`;
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres@127.0.0.1:${opts.port}/${database}`,
    port: opts.port,
    stop: async () => {
      const [stopCmd, stopArgs] = asOwner(path.join(bin, 'pg_ctl'), [
        '-D',
        dataDir,
        '-m',
        'fast',
        '-w',
        'stop',
      ]);
      await new Promise<void>((resolve) => {
        const child = spawn(stopCmd, stopArgs, { stdio: 'ignore' });
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
    },
  };
}
