import { spawn } from 'node:child_process';
import path from 'node:path';
import { findPostgresBin, startEmbeddedPostgres } from '../../scripts/dev/embedded-postgres';

/**
 * The soak's own Postgres cluster, durable (fsync on) like production, so a crash means what it
 * means there. `crash` is `pg_ctl stop -m immediate`: no checkpoint, every backend killed, recovery
 * from WAL at the next start.
 */
export class PostgresProcess {
  /** Set by stop(): a restart planned before it must not start the cluster again. */
  private closed = false;

  private constructor(
    readonly url: string,
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  static async start(dataDir: string, port: number): Promise<PostgresProcess> {
    const pg = await startEmbeddedPostgres({ dataDir, port, portSetting: '--data-dir' });
    return new PostgresProcess(pg.url, dataDir, port);
  }

  async crash(): Promise<void> {
    await this.pgCtl(['-m', 'immediate', '-w', 'stop']);
  }

  async restart(): Promise<void> {
    if (this.closed) return;
    await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port });
  }

  async stop(): Promise<void> {
    this.closed = true;
    await this.pgCtl(['-m', 'fast', '-w', 'stop']);
  }

  private async pgCtl(args: string[]): Promise<void> {
    const pgCtl = path.join(findPostgresBin(), 'pg_ctl');
    const full = ['-D', path.resolve(this.dataDir), ...args];
    // Postgres refuses to run as root; the cluster then belongs to the postgres user.
    const [cmd, argv] =
      process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', pgCtl, ...full]] : [pgCtl, full];
    await new Promise<void>((resolve) => {
      const child = spawn(cmd, argv, { stdio: 'ignore' });
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
  }
}
