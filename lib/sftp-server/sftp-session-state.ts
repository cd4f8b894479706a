import type fs from 'node:fs';
import type { Logger } from 'pino';
import { type SFTPWrapper, utils } from 'ssh2';
import type { AccountUsage, OpenFile } from './account-usage';
import { closeFd, fstatP } from './fd-io';
import { type Jail, normalizeVirtualPath } from './jail-path';
import { ReplyRoom } from './reply-room';
import type { SftpLimits } from './sftp-config';
import { Refusal, invalidHandle, isExpected, statusFor } from './sftp-refusals';
import type { UploadAccount, UploadCompletion } from './upload-completion';

/**
 * What one SFTP session shares between its request handlers: the account (once its folder is
 * ready), the handle table, the in-flight cap, reply back-pressure, and how requests are answered
 * and failed. The handlers live in file-requests.ts, directory-requests.ts and path-requests.ts.
 */

const { STATUS_CODE } = utils.sftp;

export interface SessionContext {
  /** The account's folder and usage, being prepared while the client already sends requests. */
  prepare: Promise<UploadAccount>;
  limits: SftpLimits;
  log: Logger;
  completion: UploadCompletion;
  /** Called on every request: the connection is not idle. */
  touch(): void;
}

export interface FileEntry {
  kind: 'file';
  fd: number;
  virtualPath: string;
  writable: boolean;
  append: boolean;
  /** The file's quota record, shared with every other handle on it. */
  file: OpenFile;
  bytesIn: number;
  bytesOut: number;
  pending: Set<Promise<unknown>>;
  /** Append-mode writes run one after another: O_APPEND order must be the client's order. */
  appendQueue: Promise<unknown>;
  /** Chain of write answers, to send them in request order. */
  replies: Promise<void>;
  /**
   * Settles when the size changes sent so far on this handle are done. A write sent after one waits
   * for it: run before a truncation, its bytes would be cut away after being charged for nothing;
   * run during it, they would land past the new end after the charge was given back.
   */
  resized: Promise<unknown>;
  /** The first write failure: later writes on this handle fail the same way. */
  failed?: unknown;
  closing: boolean;
}

export interface DirEntry {
  kind: 'dir';
  dir: fs.Dir;
  virtualPath: string;
  realPath: string;
  queue: Promise<unknown>;
  done: boolean;
}

export type Entry = FileEntry | DirEntry;

export type Detail = Record<string, unknown>;

export class SftpSession {
  readonly limits: SftpLimits;
  readonly completion: UploadCompletion;
  readonly log: Logger;
  readonly replyRoom: ReplyRoom;
  /** Settles when the account below is set. */
  readonly prepared: Promise<void>;
  account!: UploadAccount;
  jail!: Jail;
  usage!: AccountUsage;
  ended = false;
  private readonly handles = new Map<number, Entry>();
  private nextHandle = 1;
  private pendingRequests = 0;
  private stopped: Promise<void> | undefined;

  constructor(
    readonly sftp: SFTPWrapper,
    private readonly ctx: SessionContext,
  ) {
    this.limits = ctx.limits;
    this.completion = ctx.completion;
    this.log = ctx.log;
    this.replyRoom = new ReplyRoom(sftp, ctx.limits.maxQueuedReplyBytes);
    // Requests that arrive before the folder is ready wait for it (handlers must exist from the
    // start, or ssh2 answers them "unsupported").
    this.prepared = ctx.prepare.then((a) => {
      this.account = a;
      this.jail = a.jail;
      this.usage = a.usage;
    });
  }

  lookup(handle: Buffer): Entry | undefined {
    return handle.length === 4 ? this.handles.get(handle.readUInt32BE(0)) : undefined;
  }

  /** A file handle still usable (not being closed). */
  fileEntry(handle: Buffer): FileEntry {
    const entry = this.lookup(handle);
    if (!entry || entry.kind !== 'file' || entry.closing) throw invalidHandle();
    return entry;
  }

  newHandle(entry: Entry): Buffer {
    const id = this.nextHandle++;
    this.handles.set(id, entry);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return buf;
  }

  /** Takes a looked-up handle out of the table (its entry is closed by the caller). */
  forget(handle: Buffer): void {
    this.handles.delete(handle.readUInt32BE(0));
  }

  checkHandleRoom(): void {
    if (this.handles.size >= this.limits.maxHandles) {
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `Too many open files in this session (limit ${this.limits.maxHandles}); close some first`,
      );
    }
  }

  reply(reqid: number, code: number, message?: string): void {
    if (!this.ended) this.sftp.status(reqid, code, message);
  }

  fail(reqid: number, op: string, err: unknown, detail?: Detail): void {
    const { code, message } = statusFor(err);
    if (isExpected(err, code)) this.log.info({ op, ...detail, reason: message }, 'sftp request refused');
    else this.log.warn({ op, ...detail, err }, 'sftp request failed');
    this.reply(reqid, code, message);
  }

  touch(): void {
    this.ctx.touch();
  }

  /** Counts one request in flight, or answers it at once when the session has too many. */
  takeRequestSlot(reqid: number): boolean {
    if (this.pendingRequests >= this.limits.maxPendingRequests) {
      this.reply(reqid, STATUS_CODE.FAILURE, 'Too many requests in flight; slow down');
      return false;
    }
    this.pendingRequests++;
    return true;
  }

  releaseRequestSlot(): void {
    this.pendingRequests--;
  }

  /**
   * Runs one request: activity, the in-flight cap, and errors turned into statuses. Settles once the
   * request is answered.
   */
  run(reqid: number, op: string, work: () => Promise<void>, detail?: Detail): Promise<void> {
    this.touch();
    if (!this.takeRequestSlot(reqid)) return Promise.resolve();
    return this.prepared
      .then(work)
      .catch((err: unknown) => this.fail(reqid, op, err, detail))
      .finally(() => this.releaseRequestSlot());
  }

  /**
   * A request that changes one name below the top folder (`what` says how, for the refusal):
   * answered OK once `change` is done.
   */
  changeName(
    reqid: number,
    op: string,
    input: string,
    what: string,
    change: (virtualPath: string, real: string) => Promise<void>,
  ): Promise<void> {
    return this.run(
      reqid,
      op,
      async () => {
        const virtualPath = normalizeVirtualPath(input);
        refuseRoot(virtualPath, what);
        const real = await this.jail.resolve(virtualPath, false);
        await change(virtualPath, real);
        this.reply(reqid, STATUS_CODE.OK);
      },
      { path: input },
    );
  }

  /** Closes a handle's file or directory; a file's last handle settles its quota and its upload. */
  async closeEntry(entry: Entry, abandoned: boolean): Promise<void> {
    if (entry.kind === 'dir') {
      await entry.queue.catch(() => undefined);
      await entry.dir.close().catch(() => undefined);
      return;
    }
    entry.closing = true;
    await Promise.allSettled([...entry.pending]);
    const size = await this.usage.exclusive(async () => {
      const last = entry.file.handles === 1;
      const actual = last
        ? await fstatP(entry.fd).then(
            (st) => st.size,
            () => undefined,
          )
        : undefined;
      await closeFd(entry.fd);
      this.usage.closed(entry.file, entry.writable, actual);
      return actual;
    });
    if (entry.writable) {
      this.log.info(
        { op: 'upload', path: entry.virtualPath, bytes: entry.bytesIn, size, abandoned },
        abandoned ? 'upload interrupted' : 'upload closed',
      );
      if (abandoned) this.completion.writerAbandoned(this.account, entry.virtualPath);
      else this.completion.writerClosed(this.account, entry.virtualPath);
    } else if (entry.bytesOut > 0) {
      this.log.info({ op: 'download', path: entry.virtualPath, bytes: entry.bytesOut }, 'download closed');
    }
  }

  /** Ends the session; resolves once every file it had open is closed and its quota settled. */
  shutdown(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.ended = true;
    this.replyRoom.end(); // waiting READs see `ended` and give up
    const open = [...this.handles.values()];
    this.handles.clear();
    // An upload still open when the connection drops is partial: never report it as complete.
    this.stopped = Promise.all(open.map((entry) => this.closeEntry(entry, true).catch(() => undefined))).then(
      () => undefined,
    );
    return this.stopped;
  }
}

export function refuseRoot(virtualPath: string, what: string): void {
  if (virtualPath === '/') throw new Refusal(STATUS_CODE.PERMISSION_DENIED, `Cannot ${what} your top folder`);
}
