import crypto from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { OpenUploadsRepository } from '../db/repositories/open-uploads.repository';

/**
 * Publishes which files this server process has open for writing, or saw an upload of cut off
 * (sftp_open_uploads), so workers on other machines honour them. Writes go one at a time, in order, so a quick open-then-close never
 * lands as close-then-open. The rows carry a lease this process renews; if it dies they expire.
 * A failed write is logged, never fatal: the upload goes on, and the quiet period still guards it.
 */
export class OpenUploadRecords {
  private readonly repo: OpenUploadsRepository;
  private readonly serverId = crypto.randomUUID();
  private queue: Promise<void> = Promise.resolve();
  private readonly renewal: NodeJS.Timeout;

  constructor(
    pool: Pool,
    private readonly log: Logger,
    /** How long a row outlives this process's last renewal (renewed every third of it). */
    private readonly leaseMs = 90_000,
  ) {
    this.repo = new OpenUploadsRepository(pool);
    this.renewal = setInterval(
      () => this.enqueue('renew', () => this.repo.renew(this.serverId, leaseMs)),
      leaseMs / 3,
    );
    this.renewal.unref();
  }

  private enqueue(what: string, work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((err: unknown) => {
      this.log.error({ err, serverId: this.serverId }, `recording open uploads failed (${what})`);
    });
  }

  /** `virtualPath` as the district sees it ('/upload/users.csv'). */
  opened(districtId: string, virtualPath: string): void {
    const path = virtualPath.replace(/^\/+/, '');
    this.enqueue('open', () => this.repo.opened(this.serverId, districtId, path, this.leaseMs));
  }

  /** The connection dropped with the file open: it stays unfinished until written or replaced. */
  interrupted(districtId: string, virtualPath: string): void {
    const path = virtualPath.replace(/^\/+/, '');
    this.enqueue('interrupt', () => this.repo.interrupted(this.serverId, districtId, path));
  }

  /** Closed, removed or replaced: nothing unfinished at this name any more. */
  finished(districtId: string, virtualPath: string): void {
    const path = virtualPath.replace(/^\/+/, '');
    this.enqueue('finish', () => this.repo.closed(this.serverId, districtId, path));
  }

  /** Waits for the writes under way (tests, and close). */
  async flushed(): Promise<void> {
    await this.queue;
  }

  /** Stops renewing: the rows expire within the lease, as they do when the process dies. */
  stopRenewing(): void {
    clearInterval(this.renewal);
  }

  /** Stops renewing and removes this process's rows: its connections are gone. */
  async close(): Promise<void> {
    this.stopRenewing();
    this.enqueue('release', () => this.repo.releaseAll(this.serverId));
    await this.flushed();
  }
}
