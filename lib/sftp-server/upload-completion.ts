import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { plainUploadState } from '../files/upload-quiet';
import type { AccountUsage } from './account-usage';
import type { Jail } from './jail-path';
import type { OpenUploadRecords } from './open-upload-records';
import { COMPLETE_MARKER, UPLOAD_DIR, classifyUpload, epochName, isEpochDir } from './upload-rules';

/**
 * Decides when an upload is complete and reports it once, so a sync never reads a half-written file.
 * Sessions tell it when write handles open and close and when names appear (renames); it applies
 * the rules of upload-rules.ts. Event-driven: nothing polls the disk. Files open for writing are
 * also published (OpenUploadRecords), so a run on any worker leaves them alone.
 */

export interface UploadCompleteEvent {
  districtId: string;
  username: string;
  /** Virtual path as the district sees it: the epoch directory, or the plain file. */
  path: string;
}
export type OnUploadComplete = (event: UploadCompleteEvent) => void | Promise<void>;

export interface UploadAccount {
  districtId: string;
  username: string;
  jail: Jail;
  /** The account's shared usage: the files and folders a move creates count in it. */
  usage: AccountUsage;
}

interface QuietTimer {
  timer: NodeJS.Timeout;
  size: number;
  mtimeMs: number;
}

export class UploadCompletion {
  private readonly openWriters = new Map<string, number>();
  private readonly quiet = new Map<string, QuietTimer>();
  private readonly pendingEpochs = new Map<string, UploadAccount>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly opts: {
      quietMs: number;
      log: Logger;
      onUploadComplete: OnUploadComplete;
      openUploads: OpenUploadRecords;
      now?: () => Date;
    },
  ) {}

  private key(account: UploadAccount, virtualPath: string): string {
    return `${account.username}\u0000${virtualPath}`;
  }

  writerOpened(account: UploadAccount, virtualPath: string): void {
    const key = this.key(account, virtualPath);
    const before = this.openWriters.get(key) ?? 0;
    this.openWriters.set(key, before + 1);
    if (before === 0) this.opts.openUploads.opened(account.districtId, virtualPath);
    this.cancelQuiet(key);
  }

  /** Counts one writer of the file out; true when it was the last. */
  private writerGone(account: UploadAccount, virtualPath: string): boolean {
    const key = this.key(account, virtualPath);
    const left = (this.openWriters.get(key) ?? 1) - 1;
    if (left > 0) {
      this.openWriters.set(key, left);
      return false;
    }
    this.openWriters.delete(key);
    return true;
  }

  writerClosed(account: UploadAccount, virtualPath: string): void {
    if (this.writerGone(account, virtualPath)) this.changed(account, virtualPath);
    // A member of an epoch whose COMPLETE arrived early: the epoch may be waiting for this close.
    const dir = path.posix.dirname(virtualPath);
    if (isEpochDir(dir)) this.tryEpoch(account, dir);
  }

  /**
   * The connection dropped with this file open: it is partial, so it is not reported (a resume will
   * close it), and runs leave it alone until it is written again or replaced.
   */
  writerAbandoned(account: UploadAccount, virtualPath: string): void {
    if (this.writerGone(account, virtualPath))
      this.opts.openUploads.interrupted(account.districtId, virtualPath);
  }

  /** A name now holds finished content (a rename onto it, a close, a time change). */
  changed(account: UploadAccount, virtualPath: string): void {
    if (this.closed) return;
    const kind = classifyUpload(virtualPath);
    if (this.openWriters.has(this.key(account, virtualPath))) return;
    this.opts.openUploads.finished(account.districtId, virtualPath);
    switch (kind.kind) {
      case 'epoch-marker':
        this.pendingEpochs.set(this.key(account, kind.epochDir), account);
        this.tryEpoch(account, kind.epochDir);
        return;
      case 'auto':
        this.track(this.moveAutoFile(account, virtualPath));
        return;
      case 'plain':
        this.track(this.scheduleQuiet(account, virtualPath));
        return;
      default:
        return;
    }
  }

  /** A directory was renamed into place: an epoch directory that already holds COMPLETE is complete. */
  directoryAppeared(account: UploadAccount, virtualDir: string): void {
    if (!isEpochDir(virtualDir)) return;
    this.track(
      (async () => {
        const real = await account.jail.resolve(path.posix.join(virtualDir, COMPLETE_MARKER), false);
        if (await isFile(real)) this.changed(account, path.posix.join(virtualDir, COMPLETE_MARKER));
      })(),
    );
  }

  removed(account: UploadAccount, virtualPath: string): void {
    this.opts.openUploads.finished(account.districtId, virtualPath);
    this.cancelQuiet(this.key(account, virtualPath));
  }

  private tryEpoch(account: UploadAccount, epochDir: string): void {
    const key = this.key(account, epochDir);
    if (!this.pendingEpochs.has(key)) return;
    const prefix = `${key}/`;
    for (const writer of this.openWriters.keys()) if (writer.startsWith(prefix)) return;
    this.pendingEpochs.delete(key);
    this.track(
      (async () => {
        const marker = await account.jail.resolve(path.posix.join(epochDir, COMPLETE_MARKER), false);
        if (!(await isFile(marker))) return;
        await this.report(account, epochDir);
      })(),
    );
  }

  private async moveAutoFile(account: UploadAccount, virtualPath: string): Promise<void> {
    // Never refused for the entry limit: the district already uploaded the file, and a folder past
    // the limit only stops its next new names until it removes old ones.
    const epochDir = await account.usage.serverChange(async () => {
      const source = await account.jail.resolve(virtualPath, false);
      if (!(await isFile(source))) return undefined;
      const uploadReal = await account.jail.resolve(UPLOAD_DIR, false);
      const now = (this.opts.now ?? (() => new Date()))();
      // A fresh directory per file: if this second's name is taken, use the next free second.
      for (let i = 0; i < 600; i++) {
        const name = epochName(new Date(now.getTime() + i * 1000));
        const epochReal = path.join(uploadReal, name);
        try {
          await fs.mkdir(epochReal, { mode: 0o700 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
          throw err;
        }
        account.usage.entryAdded();
        const fileName = path.basename(source);
        await fs.rename(source, path.join(epochReal, fileName));
        await fs.writeFile(path.join(epochReal, COMPLETE_MARKER), '', { flag: 'wx', mode: 0o600 });
        account.usage.entryAdded();
        const moved = `${UPLOAD_DIR}/${name}`;
        this.opts.log.info(
          {
            district: account.districtId,
            username: account.username,
            from: virtualPath,
            to: `${moved}/${fileName}`,
          },
          'moved _auto.csv upload into a new epoch directory',
        );
        return moved;
      }
      throw new Error(`no free epoch directory name in ${UPLOAD_DIR} for ${virtualPath}`);
    });
    if (epochDir) await this.report(account, epochDir);
  }

  private async scheduleQuiet(account: UploadAccount, virtualPath: string): Promise<void> {
    const key = this.key(account, virtualPath);
    this.cancelQuiet(key);
    const real = await account.jail.resolve(virtualPath, false);
    let stats;
    try {
      stats = await fs.lstat(real);
    } catch {
      return;
    }
    if (!stats.isFile() || this.closed) return;
    const timer = setTimeout(() => {
      this.quiet.delete(key);
      this.track(this.quietElapsed(account, virtualPath, real, stats.size, stats.mtimeMs));
    }, this.opts.quietMs);
    timer.unref();
    this.quiet.set(key, { timer, size: stats.size, mtimeMs: stats.mtimeMs });
  }

  private async quietElapsed(
    account: UploadAccount,
    virtualPath: string,
    real: string,
    size: number,
    mtimeMs: number,
  ): Promise<void> {
    if (this.openWriters.has(this.key(account, virtualPath))) return; // its close will reschedule
    let stats;
    try {
      stats = await fs.lstat(real);
    } catch {
      return; // removed or renamed away during the quiet period
    }
    const now = (this.opts.now ?? (() => new Date()))().getTime();
    const state = plainUploadState({ path: virtualPath, mtimeMs: stats.mtimeMs }, now, this.opts.quietMs);
    if (stats.size !== size || stats.mtimeMs !== mtimeMs || !state.complete) {
      await this.scheduleQuiet(account, virtualPath); // changed meanwhile: start the quiet period again
      return;
    }
    await this.report(account, virtualPath);
  }

  private cancelQuiet(key: string): void {
    const pending = this.quiet.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.quiet.delete(key);
    }
  }

  private async report(account: UploadAccount, virtualPath: string): Promise<void> {
    if (this.closed) return;
    const event = { districtId: account.districtId, username: account.username, path: virtualPath };
    this.opts.log.info(
      { district: account.districtId, username: account.username, path: virtualPath },
      'upload complete',
    );
    await this.opts.onUploadComplete(event);
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.opts.log.error({ err }, 'upload completion handling failed');
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /** Stops timers and waits for reports already under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.quiet.values()) clearTimeout(pending.timer);
    this.quiet.clear();
    await Promise.all([...this.inFlight]);
  }
}

async function isFile(real: string): Promise<boolean> {
  try {
    return (await fs.lstat(real)).isFile();
  } catch {
    return false;
  }
}
