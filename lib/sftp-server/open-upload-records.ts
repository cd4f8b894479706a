import crypto from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { OpenUploadsRepository, type HeldUpload } from '../db/repositories/open-uploads.repository';

type Held = HeldUpload & { state: 'open' | 'interrupted' };
type Change = HeldUpload & { state: Held['state'] | 'finished' };

/**
 * Publishes which files this server process has open for writing, or saw an upload of cut off
 * (sftp_open_uploads), so workers on other machines honour them. One writer, in order, and only the
 * latest state of each path waits to be written: a quick open-then-close never lands as
 * close-then-open, and a district opening and closing files faster than the database answers
 * costs one pending entry per path, not one per event. The rows carry a lease this process renews
 * from what it holds in memory, so rows dropped while the database did not answer come back; if the
 * process dies they expire. A failed write is logged, never fatal: the upload goes on, and the
 * quiet period still guards it.
 */
export class OpenUploadRecords {
  private readonly repo: OpenUploadsRepository;
  private readonly serverId = crypto.randomUUID();
  private readonly held = new Map<string, Held>();
  private readonly pending = new Map<string, Change>();
  private renewDue = false;
  private releaseDue = false;
  /** When the last renewal that reached the database started: until then plus the lease, no row of ours expired. */
  private renewedAtMs = Date.now();
  private writing: Promise<void> | undefined;
  private readonly renewal: NodeJS.Timeout;

  constructor(
    pool: Pool,
    private readonly log: Logger,
    /** How long a row outlives this process's last renewal (renewed every third of it). */
    private readonly leaseMs = 90_000,
  ) {
    this.repo = new OpenUploadsRepository(pool);
    this.renewal = setInterval(() => {
      this.renewDue = true;
      this.write();
    }, leaseMs / 3);
    this.renewal.unref();
  }

  /** `virtualPath` as the district sees it ('/upload/users.csv'). */
  opened(districtId: string, virtualPath: string): void {
    this.change({ districtId, path: virtualPath.replace(/^\/+/, ''), state: 'open' });
  }

  /** The connection dropped with the file open: it stays unfinished until written or replaced. */
  interrupted(districtId: string, virtualPath: string): void {
    this.change({ districtId, path: virtualPath.replace(/^\/+/, ''), state: 'interrupted' });
  }

  /** Closed, removed or replaced: nothing unfinished at this name any more. */
  finished(districtId: string, virtualPath: string): void {
    this.change({ districtId, path: virtualPath.replace(/^\/+/, ''), state: 'finished' });
  }

  private change(change: Change): void {
    const key = `${change.districtId}\u0000${change.path}`;
    if (change.state === 'finished') this.held.delete(key);
    else this.held.set(key, { districtId: change.districtId, path: change.path, state: change.state });
    this.pending.delete(key); // re-queued at the end, so changes to other paths are not starved
    this.pending.set(key, change);
    this.write();
  }

  private write(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const next = this.pending.entries().next();
      if (!next.done) {
        const [key, change] = next.value;
        this.pending.delete(key);
        await this.attempt(change.state, () => this.record(change));
      } else if (this.renewDue) {
        this.renewDue = false;
        await this.attempt('renew', () => this.renew());
      } else if (this.releaseDue) {
        this.releaseDue = false;
        await this.attempt('release', () => this.repo.releaseAll(this.serverId));
      } else return;
    }
  }

  private async attempt(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.log.error({ err, serverId: this.serverId }, `recording open uploads failed (${what})`);
    }
  }

  private async record(change: Change): Promise<void> {
    const { districtId, path } = change;
    if (change.state === 'open') await this.repo.opened(this.serverId, districtId, path, this.leaseMs);
    else if (change.state === 'interrupted')
      await this.repo.interrupted(this.serverId, districtId, path, this.leaseMs);
    else await this.repo.closed(this.serverId, districtId, path);
  }

  private async renew(): Promise<void> {
    const startedAtMs = Date.now();
    const held = [...this.held.values()];
    const found = new Set(
      (
        await this.repo.renew(
          this.serverId,
          this.leaseMs,
          held.filter((u) => u.state === 'open'),
        )
      ).map((u) => `${u.districtId}\u0000${u.path}`),
    );
    // A missing interrupted mark was either dropped as expired (the last renewal is a lease ago:
    // write it back) or cleared by the upload finishing on another server (forget it).
    const mayHaveExpired = Date.now() - this.renewedAtMs >= (this.leaseMs * 2) / 3;
    const lost: HeldUpload[] = [];
    for (const [key, upload] of this.held) {
      if (upload.state !== 'interrupted' || found.has(key) || this.pending.has(key)) continue;
      if (mayHaveExpired) lost.push(upload);
      else this.held.delete(key);
    }
    await this.repo.restoreInterrupted(this.serverId, this.leaseMs, lost);
    this.renewedAtMs = startedAtMs;
    await this.repo.dropExpired();
  }

  /** Waits for the writes under way and those waiting (tests, and close). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Stops renewing: the rows expire within the lease, as they do when the process dies. */
  stopRenewing(): void {
    clearInterval(this.renewal);
  }

  /** Stops renewing and removes this process's rows: its connections are gone. */
  async close(): Promise<void> {
    this.stopRenewing();
    this.renewDue = false;
    this.releaseDue = true;
    this.write();
    await this.flushed();
  }
}
