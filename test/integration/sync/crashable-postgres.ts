import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, type Pool } from 'pg';
import { createPool } from '../../../lib/db/pool';
import { migrate } from '../../../lib/db/migrate';
import {
  findPostgresBin,
  freePort,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../../scripts/dev/embedded-postgres';

/**
 * A private, durable Postgres cluster on loopback that a test may crash (`pg_ctl stop -m immediate`:
 * no checkpoint, every backend killed, UNLOGGED tables emptied on the next start) and restart.
 * The shared test cluster other files use is never touched.
 */
export class CrashablePostgres {
  private server?: EmbeddedPostgres;
  private readonly pools = new Set<Pool>();

  private constructor(
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  static async start(): Promise<CrashablePostgres> {
    const pg = new CrashablePostgres(
      fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-crash-pg-')),
      await freePort(),
    );
    fs.rmSync(pg.dataDir, { recursive: true, force: true });
    await pg.boot();
    await migrate(pg.url);
    return pg;
  }

  get url(): string {
    if (!this.server) throw new Error('The crashable Postgres is not running');
    return this.server.url;
  }

  /** A pool on the cluster, ended by stop() (a crash leaves its clients dead, as a worker's would be). */
  pool(max = 5): Pool {
    const pool = createPool(this.url, max);
    this.pools.add(pool);
    return pool;
  }

  /** An immediate shutdown, as a crash or failover would leave the database. */
  async crash(): Promise<void> {
    const pgCtl = path.join(findPostgresBin(), 'pg_ctl');
    const args = ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'];
    const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', pgCtl, ...args]] : [pgCtl, args];
    execFileSync(cmd, argv, { stdio: 'ignore', timeout: 60_000 });
    this.server = undefined;
  }

  async restart(): Promise<void> {
    await this.boot();
  }

  /** A client of its own, outside every pool (for locks a test holds). */
  async client(): Promise<Client> {
    const client = new Client({ connectionString: this.url });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async stop(): Promise<void> {
    for (const pool of this.pools) await pool.end().catch(() => undefined);
    if (this.server) await this.server.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async boot(): Promise<void> {
    // Durable (fsync on): what a crash keeps must be what a production database would keep.
    this.server = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port });
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
