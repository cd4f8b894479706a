import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { utils, type SFTPWrapper } from 'ssh2';
import { type AccountUsage, type OpenFile, fileKey } from './account-usage';
import { type Jail, PathRejectedError, normalizeVirtualPath } from './jail-path';
import { longname } from './ls-long-format';
import type { SftpLimits } from './sftp-config';
import type { UploadAccount, UploadCompletion } from './upload-completion';
import { classifyUpload } from './upload-rules';

/**
 * One SFTP session of one account: answers the protocol requests real clients send, on the
 * account's jailed folder, within the configured limits. Every file access goes through the jail;
 * reads and writes are positional and asynchronous so many requests overlap (clients pipeline).
 */

const { STATUS_CODE, OPEN_MODE } = utils.sftp;
const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_EXCL, O_APPEND, O_NOFOLLOW } = fs.constants;
const READDIR_BATCH = 64;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface SessionContext {
  /** The account's folder and usage, being prepared while the client already sends requests. */
  prepare: Promise<UploadAccount>;
  limits: SftpLimits;
  log: Logger;
  completion: UploadCompletion;
  /** Called on every request: the connection is not idle. */
  touch(): void;
}

/** A request refused on purpose, with the status and the message the client shows. */
class Refusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface FileEntry {
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

interface DirEntry {
  kind: 'dir';
  dir: fs.Dir;
  virtualPath: string;
  realPath: string;
  queue: Promise<unknown>;
  done: boolean;
}

type Entry = FileEntry | DirEntry;

interface Attrs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: number;
  mtime?: number;
}

const toAttrs = (st: fs.Stats) => ({
  mode: st.mode,
  uid: st.uid,
  gid: st.gid,
  size: st.size,
  atime: Math.floor(st.atimeMs / 1000),
  mtime: Math.floor(st.mtimeMs / 1000),
});

function statusFor(err: unknown): { code: number; message: string } {
  if (err instanceof Refusal) return { code: err.code, message: err.message };
  if (err instanceof PathRejectedError) return { code: STATUS_CODE.PERMISSION_DENIED, message: err.message };
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return { code: STATUS_CODE.NO_SUCH_FILE, message: 'No such file or directory' };
    case 'EACCES':
    case 'EPERM':
      return { code: STATUS_CODE.PERMISSION_DENIED, message: 'Permission denied' };
    case 'ELOOP':
      return { code: STATUS_CODE.PERMISSION_DENIED, message: 'Symbolic links are not followed here' };
    case 'EEXIST':
      return { code: STATUS_CODE.FAILURE, message: 'Already exists' };
    case 'ENOTEMPTY':
      return { code: STATUS_CODE.FAILURE, message: 'Directory not empty' };
    case 'EISDIR':
      return { code: STATUS_CODE.FAILURE, message: 'Is a directory' };
    case 'ENOTDIR':
      return { code: STATUS_CODE.NO_SUCH_FILE, message: 'Not a directory' };
    case 'EINVAL':
      return { code: STATUS_CODE.FAILURE, message: 'Invalid argument' };
    case 'ENOSPC':
    case 'EDQUOT':
      return { code: STATUS_CODE.FAILURE, message: 'No space left on the server; contact support' };
    default:
      return { code: STATUS_CODE.FAILURE, message: 'Operation failed' };
  }
}

const readP = (fd: number, buf: Buffer, len: number, pos: number) =>
  new Promise<number>((resolve, reject) =>
    fs.read(fd, buf, 0, len, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );
const writeP = (fd: number, buf: Buffer, pos: number | null) =>
  new Promise<void>((resolve, reject) => {
    const step = (off: number, p: number | null): void => {
      fs.write(fd, buf, off, buf.length - off, p, (err, n) => {
        if (err) return reject(err);
        if (off + n >= buf.length) return resolve();
        step(off + n, p === null ? null : p + n);
      });
    };
    step(0, pos);
  });
const fstatP = (fd: number) =>
  new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
const closeFd = (fd: number) => new Promise<void>((resolve) => fs.close(fd, () => resolve()));
const openP = (real: string, flags: number) =>
  new Promise<number>((resolve, reject) =>
    fs.open(real, flags, FILE_MODE, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
const ftruncateP = (fd: number, size: number) =>
  new Promise<void>((resolve, reject) => fs.ftruncate(fd, size, (err) => (err ? reject(err) : resolve())));

/**
 * Cutting a file short while another handle writes it would hand back bytes that handle's next
 * writes put back without being charged, so it waits until that upload is closed.
 */
const beingWritten = () =>
  new Refusal(
    STATUS_CODE.FAILURE,
    'File is being uploaded by another transfer; try again once that upload has finished',
  );

const tooManyEntries = (limit: number) =>
  new Refusal(
    STATUS_CODE.FAILURE,
    `Too many files and folders: your folder may hold ${limit} (SFTP_MAX_ENTRIES); remove old files or folders, such as old epoch folders in /upload`,
  );

/**
 * Bytes of replies ssh2 holds for this channel because the client's SSH window is shut. ssh2 takes
 * every reply at once and keeps what it cannot send in this array; it tells nothing when it drains.
 */
const queuedReplyBytes = (sftp: SFTPWrapper): number => {
  const queue = (sftp as unknown as { _buffer?: Buffer[] })._buffer ?? [];
  let bytes = 0;
  for (const payload of queue) bytes += payload.length;
  return bytes;
};
const REPLY_ROOM_CHECK_MS = 20;

export interface ServedSession {
  /** Ends the session; resolves once every file it had open is closed and its quota settled. */
  stop(): Promise<void>;
}

export function serveSftp(sftp: SFTPWrapper, ctx: SessionContext): ServedSession {
  const { limits, completion } = ctx;
  let account!: UploadAccount;
  let jail!: Jail;
  let usage!: AccountUsage;
  // Requests that arrive before the folder is ready wait for it (handlers must exist from the start,
  // or ssh2 answers them "unsupported").
  const prepared = ctx.prepare.then((a) => {
    account = a;
    jail = a.jail;
    usage = a.usage;
  });
  const handles = new Map<number, Entry>();
  let nextHandle = 1;
  let pendingRequests = 0;
  let ended = false;
  let stopped: Promise<void> | undefined;

  /**
   * READs wait here until their data fits beside the replies ssh2 still holds and the reads already
   * under way, so a client that stops opening its SSH window cannot make the server buffer files.
   */
  const readsWaiting: Array<{ bytes: number; start: () => void }> = [];
  let readBytesReserved = 0;
  let roomCheck: NodeJS.Timeout | undefined;
  const startReads = (): void => {
    while (readsWaiting.length > 0) {
      const held = readBytesReserved + queuedReplyBytes(sftp);
      const next = readsWaiting[0];
      // With nothing held one read always goes, whatever its size.
      if (!ended && held > 0 && held + next.bytes > limits.maxQueuedReplyBytes) break;
      readsWaiting.shift();
      readBytesReserved += next.bytes;
      next.start();
    }
    // ssh2 does not say when the client opens its window again: look again shortly.
    if (readsWaiting.length > 0 && !roomCheck) {
      roomCheck = setTimeout(() => {
        roomCheck = undefined;
        startReads();
      }, REPLY_ROOM_CHECK_MS);
      roomCheck.unref();
    }
  };
  const replyRoom = (bytes: number): Promise<void> =>
    new Promise((start) => {
      readsWaiting.push({ bytes, start });
      startReads();
    });
  const replySent = (bytes: number): void => {
    readBytesReserved -= bytes;
    startReads();
  };

  const log = ctx.log;

  const lookup = (handle: Buffer): Entry | undefined =>
    handle.length === 4 ? handles.get(handle.readUInt32BE(0)) : undefined;

  const newHandle = (entry: Entry): Buffer => {
    const id = nextHandle++;
    handles.set(id, entry);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return buf;
  };

  const reply = (reqid: number, code: number, message?: string): void => {
    if (!ended) sftp.status(reqid, code, message);
  };

  const fail = (reqid: number, op: string, err: unknown, detail?: Record<string, unknown>): void => {
    const { code, message } = statusFor(err);
    const expected =
      err instanceof Refusal || err instanceof PathRejectedError || code !== STATUS_CODE.FAILURE;
    if (expected) log.info({ op, ...detail, reason: message }, 'sftp request refused');
    else log.warn({ op, ...detail, err }, 'sftp request failed');
    reply(reqid, code, message);
  };

  /**
   * Runs one request: activity, the in-flight cap, and errors turned into statuses. Settles once the
   * request is answered.
   */
  const run = (
    reqid: number,
    op: string,
    work: () => Promise<void>,
    detail?: Record<string, unknown>,
  ): Promise<void> => {
    ctx.touch();
    if (pendingRequests >= limits.maxPendingRequests) {
      reply(reqid, STATUS_CODE.FAILURE, 'Too many requests in flight; slow down');
      return Promise.resolve();
    }
    pendingRequests++;
    return prepared
      .then(work)
      .catch((err: unknown) => fail(reqid, op, err, detail))
      .finally(() => {
        pendingRequests--;
      });
  };

  const vpath = (input: string): string => normalizeVirtualPath(input);

  const refuseRoot = (virtualPath: string, what: string): void => {
    if (virtualPath === '/')
      throw new Refusal(STATUS_CODE.PERMISSION_DENIED, `Cannot ${what} your top folder`);
  };

  const checkHandleRoom = (): void => {
    if (handles.size >= limits.maxHandles) {
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `Too many open files in this session (limit ${limits.maxHandles}); close some first`,
      );
    }
  };

  /**
   * Opens the file; creating a new name takes one of the account's entries (inside `exclusive`). An
   * existing file is opened as it is, so uploading over it or appending works at the limit. The
   * create is exclusive, so a name another handle creates meanwhile is opened, not counted twice.
   */
  const openCounted = async (real: string, flags: number): Promise<number> => {
    if (!(flags & O_CREAT)) return openP(real, flags);
    for (;;) {
      if (!(flags & O_EXCL)) {
        try {
          return await openP(real, flags & ~O_CREAT);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      if (!usage.claimEntry(limits.maxEntries)) throw tooManyEntries(limits.maxEntries);
      try {
        return await openP(real, flags | O_EXCL);
      } catch (err) {
        usage.entryRemoved();
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || flags & O_EXCL) throw err;
      }
    }
  };

  const fileEntry = (handle: Buffer): FileEntry => {
    const entry = lookup(handle);
    if (!entry || entry.kind !== 'file' || entry.closing)
      throw new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');
    return entry;
  };

  sftp.on('OPEN', (reqid: number, filename: string, pflags: number) =>
    run(
      reqid,
      'open',
      async () => {
        checkHandleRoom();
        const virtualPath = vpath(filename);
        const read = (pflags & OPEN_MODE.READ) !== 0;
        const write = (pflags & OPEN_MODE.WRITE) !== 0 || (pflags & OPEN_MODE.APPEND) !== 0;
        let flags = (read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY) | O_NOFOLLOW;
        if (write) {
          refuseRoot(virtualPath, 'write to');
          if (pflags & OPEN_MODE.CREAT) flags |= O_CREAT;
          if (pflags & OPEN_MODE.TRUNC) flags |= O_TRUNC;
          if (pflags & OPEN_MODE.EXCL) flags |= O_EXCL;
          if (pflags & OPEN_MODE.APPEND) flags |= O_APPEND;
        }
        const real = await jail.resolve(virtualPath, true);
        const opened = await usage.exclusive(async () => {
          // Truncated by hand after the open: only then is it known whether another handle writes it.
          const fd = await openCounted(real, flags & ~O_TRUNC);
          try {
            const st = await fstatP(fd);
            if (!st.isFile()) throw new Refusal(STATUS_CODE.FAILURE, 'Not a regular file');
            const key = fileKey(st);
            let size = st.size;
            if (flags & O_TRUNC) {
              if ((usage.openFile(key)?.writers ?? 0) > 0) throw beingWritten();
              await ftruncateP(fd, 0);
              usage.resized(key, st.size, 0, limits.quotaBytes);
              size = 0;
            }
            if (ended) {
              await closeFd(fd);
              return undefined;
            }
            return { fd, file: usage.opened(key, size, write) };
          } catch (err) {
            await closeFd(fd);
            throw err;
          }
        });
        if (!opened) return;
        const entry: FileEntry = {
          kind: 'file',
          fd: opened.fd,
          virtualPath,
          writable: write,
          append: (flags & O_APPEND) !== 0,
          file: opened.file,
          bytesIn: 0,
          bytesOut: 0,
          pending: new Set(),
          appendQueue: Promise.resolve(),
          replies: Promise.resolve(),
          resized: Promise.resolve(),
          closing: false,
        };
        if (write) completion.writerOpened(account, virtualPath);
        log.debug({ op: 'open', path: virtualPath, write }, 'sftp open');
        sftp.handle(reqid, newHandle(entry));
      },
      { path: filename },
    ),
  );

  sftp.on('READ', (reqid: number, handle: Buffer, offset: number, length: number) =>
    run(reqid, 'read', async () => {
      const entry = fileEntry(handle);
      const len = Math.min(length, limits.maxReadBytes);
      await replyRoom(len);
      try {
        if (ended) return;
        // Closed while waiting: its descriptor may already belong to another file.
        if (entry.closing) throw new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');
        const buf = Buffer.allocUnsafe(len);
        const work = readP(entry.fd, buf, len, offset);
        entry.pending.add(work);
        let n: number;
        try {
          n = await work;
        } finally {
          entry.pending.delete(work);
        }
        if (ended) return;
        if (n === 0 && len > 0) {
          sftp.status(reqid, STATUS_CODE.EOF);
          return;
        }
        entry.bytesOut += n;
        sftp.data(reqid, n === len ? buf : buf.subarray(0, n));
      } finally {
        replySent(len);
      }
    }),
  );

  /**
   * Writes run concurrently but are answered in request order, and the first failure on a handle
   * fails every later write on it. OpenSSH's client keeps only the status of the last answer it
   * reads: an OK arriving after a refusal would hide the refusal and report a truncated upload as done.
   */
  const write = async (entry: FileEntry, offset: number, data: Buffer): Promise<void> => {
    if (entry.failed) throw entry.failed;
    if (!entry.writable) throw new Refusal(STATUS_CODE.PERMISSION_DENIED, 'File was not opened for writing');
    // Appends land at the file's end, which is never past what is charged for it.
    const end = (entry.append ? entry.file.charged : offset) + data.length;
    if (end > limits.maxFileBytes) {
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `File too large: the limit is ${limits.maxFileBytes} bytes per file (SFTP_MAX_FILE_BYTES)`,
      );
    }
    if (!usage.grow(entry.file, end, limits.quotaBytes)) {
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `Quota exceeded: your folder may hold ${limits.quotaBytes} bytes (SFTP_QUOTA_BYTES); remove old files`,
      );
    }
    // ssh2 hands us a view of a fresh packet buffer, so it may be written asynchronously without a copy.
    let work: Promise<void>;
    if (entry.append) {
      work = entry.appendQueue.then(() => writeP(entry.fd, data, null));
      entry.appendQueue = work.catch(() => undefined);
    } else {
      work = writeP(entry.fd, data, offset);
    }
    entry.pending.add(work);
    try {
      await work;
    } finally {
      entry.pending.delete(work);
    }
    entry.bytesIn += data.length;
  };

  sftp.on('WRITE', (reqid: number, handle: Buffer, offset: number, data: Buffer) => {
    ctx.touch();
    const entry = lookup(handle);
    if (!entry || entry.kind !== 'file' || entry.closing) {
      reply(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
      return;
    }
    if (pendingRequests >= limits.maxPendingRequests) {
      reply(reqid, STATUS_CODE.FAILURE, 'Too many requests in flight; slow down');
      return;
    }
    pendingRequests++;
    const resized = entry.resized;
    const outcome = prepared
      .then(() => resized)
      .then(() => write(entry, offset, data))
      .then(
        () => undefined,
        (err: unknown) => {
          entry.failed ??= err;
          return err;
        },
      );
    const answered = entry.replies.then(async () => {
      const err = await outcome;
      pendingRequests--;
      if (err === undefined) reply(reqid, STATUS_CODE.OK);
      else fail(reqid, 'write', err, { path: entry.virtualPath });
    });
    entry.replies = answered;
    entry.pending.add(answered);
    void answered.finally(() => entry.pending.delete(answered));
  });

  const closeEntry = async (entry: Entry, abandoned: boolean): Promise<void> => {
    if (entry.kind === 'dir') {
      await entry.queue.catch(() => undefined);
      await entry.dir.close().catch(() => undefined);
      return;
    }
    entry.closing = true;
    await Promise.allSettled([...entry.pending]);
    const size = await usage.exclusive(async () => {
      const last = entry.file.handles === 1;
      const actual = last
        ? await fstatP(entry.fd).then(
            (st) => st.size,
            () => undefined,
          )
        : undefined;
      await closeFd(entry.fd);
      usage.closed(entry.file, entry.writable, actual);
      return actual;
    });
    if (entry.writable) {
      log.info(
        { op: 'upload', path: entry.virtualPath, bytes: entry.bytesIn, size, abandoned },
        abandoned ? 'upload interrupted' : 'upload closed',
      );
      if (abandoned) completion.writerAbandoned(account, entry.virtualPath);
      else completion.writerClosed(account, entry.virtualPath);
    } else if (entry.bytesOut > 0) {
      log.info({ op: 'download', path: entry.virtualPath, bytes: entry.bytesOut }, 'download closed');
    }
  };

  sftp.on('CLOSE', (reqid: number, handle: Buffer) =>
    run(reqid, 'close', async () => {
      const entry = lookup(handle);
      if (!entry) throw new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');
      handles.delete(handle.readUInt32BE(0));
      await closeEntry(entry, false);
      reply(reqid, STATUS_CODE.OK);
    }),
  );

  sftp.on('FSTAT', (reqid: number, handle: Buffer) =>
    run(reqid, 'fstat', async () => {
      const entry = lookup(handle);
      if (!entry) throw new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');
      const st = entry.kind === 'file' ? await fstatP(entry.fd) : await fsp.stat(entry.realPath);
      if (!ended) sftp.attrs(reqid, toAttrs(st));
    }),
  );

  const statPath = (reqid: number, op: 'stat' | 'lstat', input: string) =>
    run(
      reqid,
      op,
      async () => {
        const virtualPath = vpath(input);
        const real = await jail.resolve(virtualPath, op === 'stat');
        const st = op === 'stat' ? await fsp.stat(real) : await fsp.lstat(real);
        if (!ended) sftp.attrs(reqid, toAttrs(st));
      },
      { path: input },
    );
  sftp.on('STAT', (reqid: number, p: string) => statPath(reqid, 'stat', p));
  sftp.on('LSTAT', (reqid: number, p: string) => statPath(reqid, 'lstat', p));

  /** Size and times; permissions and ownership are the server's business and silently kept. */
  const applyAttrs = async (
    attrs: Attrs,
    target: { fd: number } | { real: string },
    entry?: FileEntry,
  ): Promise<void> => {
    const size = attrs.size;
    if (size !== undefined) {
      if (size > limits.maxFileBytes) {
        throw new Refusal(
          STATUS_CODE.FAILURE,
          `File too large: the limit is ${limits.maxFileBytes} bytes per file`,
        );
      }
      await usage.exclusive(async () => {
        const st = 'fd' in target ? await fstatP(target.fd) : await fsp.stat(target.real);
        if (!st.isFile()) throw new Refusal(STATUS_CODE.FAILURE, 'Not a regular file');
        const key = fileKey(st);
        const charged = usage.charged(key, st.size);
        const ownWriter = entry?.writable ? 1 : 0;
        if (size < charged && (usage.openFile(key)?.writers ?? 0) > ownWriter) throw beingWritten();
        const growing = size > charged;
        if (growing && !usage.resized(key, st.size, size, limits.quotaBytes)) {
          throw new Refusal(
            STATUS_CODE.FAILURE,
            `Quota exceeded: your folder may hold ${limits.quotaBytes} bytes`,
          );
        }
        if ('fd' in target) await ftruncateP(target.fd, size);
        else await fsp.truncate(target.real, size);
        if (!growing) usage.resized(key, st.size, size, limits.quotaBytes);
      });
    }
    if (attrs.atime !== undefined || attrs.mtime !== undefined) {
      const st = 'fd' in target ? await fstatP(target.fd) : await fsp.stat(target.real);
      const atime = attrs.atime ?? st.atimeMs / 1000;
      const mtime = attrs.mtime ?? st.mtimeMs / 1000;
      if ('fd' in target) {
        await new Promise<void>((resolve, reject) =>
          fs.futimes(target.fd, atime, mtime, (err) => (err ? reject(err) : resolve())),
        );
      } else {
        await fsp.utimes(target.real, atime, mtime);
      }
    }
  };

  sftp.on('SETSTAT', (reqid: number, p: string, attrs: Attrs) =>
    run(
      reqid,
      'setstat',
      async () => {
        const virtualPath = vpath(p);
        const real = await jail.resolve(virtualPath, true);
        await applyAttrs(attrs, { real });
        reply(reqid, STATUS_CODE.OK);
      },
      { path: p },
    ),
  );

  sftp.on('FSETSTAT', (reqid: number, handle: Buffer, attrs: Attrs) => {
    const target = lookup(handle);
    // Taken now, before later requests arrive: writes sent after this one wait for it to finish.
    const earlier = target?.kind === 'file' ? [...target.pending, target.resized] : [];
    const done = run(reqid, 'fsetstat', async () => {
      const entry = lookup(handle);
      if (!entry) throw new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');
      if (entry.kind === 'dir')
        await applyAttrs({ atime: attrs.atime, mtime: attrs.mtime }, { real: entry.realPath });
      else {
        if (attrs.size !== undefined && !entry.writable) {
          throw new Refusal(STATUS_CODE.PERMISSION_DENIED, 'File was not opened for writing');
        }
        await Promise.allSettled(earlier);
        await applyAttrs(attrs, { fd: entry.fd }, entry);
      }
      reply(reqid, STATUS_CODE.OK);
    });
    if (target?.kind === 'file') {
      // A close waits for it too: it must not truncate a descriptor already closed.
      target.pending.add(done);
      void done.finally(() => target.pending.delete(done));
      if (attrs.size !== undefined) target.resized = done;
    }
  });

  sftp.on('OPENDIR', (reqid: number, p: string) =>
    run(
      reqid,
      'opendir',
      async () => {
        checkHandleRoom();
        const virtualPath = vpath(p);
        const real = await jail.resolve(virtualPath, true);
        const dir = await fsp.opendir(real, { bufferSize: READDIR_BATCH });
        if (ended) {
          await dir.close();
          return;
        }
        sftp.handle(
          reqid,
          newHandle({ kind: 'dir', dir, virtualPath, realPath: real, queue: Promise.resolve(), done: false }),
        );
      },
      { path: p },
    ),
  );

  sftp.on('READDIR', (reqid: number, handle: Buffer) =>
    run(reqid, 'readdir', async () => {
      const entry = lookup(handle);
      if (!entry || entry.kind !== 'dir') throw new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');
      // Dir.read must not run concurrently on one handle: chain this batch after the previous one.
      const batch = entry.queue.then(async () => {
        const names: fs.Dirent[] = [];
        while (!entry.done && names.length < READDIR_BATCH) {
          const dirent = await entry.dir.read();
          if (dirent === null) entry.done = true;
          else names.push(dirent);
        }
        return names;
      });
      entry.queue = batch.catch(() => undefined);
      const names = await batch;
      if (names.length === 0) {
        reply(reqid, STATUS_CODE.EOF);
        return;
      }
      const now = Date.now();
      const listed = await Promise.all(
        names.map(async (dirent) => {
          try {
            const st = await fsp.lstat(path.join(entry.realPath, dirent.name));
            return {
              filename: dirent.name,
              longname: longname(dirent.name, st, account.username, now),
              attrs: toAttrs(st),
            };
          } catch {
            return undefined; // removed between the listing and the stat
          }
        }),
      );
      const present = listed.filter((item) => item !== undefined);
      if (ended) return;
      if (present.length === 0 && entry.done) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.name(reqid, present as never);
    }),
  );

  sftp.on('REMOVE', (reqid: number, p: string) =>
    run(
      reqid,
      'remove',
      async () => {
        const virtualPath = vpath(p);
        refuseRoot(virtualPath, 'remove');
        const real = await jail.resolve(virtualPath, false);
        const st = await usage.exclusive(async () => {
          const found = await fsp.lstat(real);
          if (found.isDirectory()) throw new Refusal(STATUS_CODE.FAILURE, 'Is a directory; use rmdir');
          await fsp.unlink(real);
          usage.entryRemoved();
          if (found.isFile()) usage.unlinked(fileKey(found), found.size);
          return found;
        });
        completion.removed(account, virtualPath);
        log.info({ op: 'remove', path: virtualPath, bytes: st.size }, 'sftp remove');
        reply(reqid, STATUS_CODE.OK);
      },
      { path: p },
    ),
  );

  sftp.on('MKDIR', (reqid: number, p: string) =>
    run(
      reqid,
      'mkdir',
      async () => {
        const virtualPath = vpath(p);
        refuseRoot(virtualPath, 'create');
        const real = await jail.resolve(virtualPath, false);
        if (!usage.claimEntry(limits.maxEntries)) {
          // An existing folder says so, as without the limit (scripts often create theirs each time).
          const exists = await fsp.lstat(real).then(
            () => true,
            () => false,
          );
          throw exists
            ? new Refusal(STATUS_CODE.FAILURE, 'Already exists')
            : tooManyEntries(limits.maxEntries);
        }
        try {
          await fsp.mkdir(real, { mode: DIR_MODE });
        } catch (err) {
          usage.entryRemoved();
          throw err;
        }
        log.info({ op: 'mkdir', path: virtualPath }, 'sftp mkdir');
        reply(reqid, STATUS_CODE.OK);
      },
      { path: p },
    ),
  );

  sftp.on('RMDIR', (reqid: number, p: string) =>
    run(
      reqid,
      'rmdir',
      async () => {
        const virtualPath = vpath(p);
        refuseRoot(virtualPath, 'remove');
        const real = await jail.resolve(virtualPath, false);
        await fsp.rmdir(real);
        usage.entryRemoved();
        log.info({ op: 'rmdir', path: virtualPath }, 'sftp rmdir');
        reply(reqid, STATUS_CODE.OK);
      },
      { path: p },
    ),
  );

  /** Rename with overwrite of an existing file (what upload-then-rename clients expect). */
  const rename = async (from: string, to: string): Promise<void> => {
    const source = vpath(from);
    const target = vpath(to);
    refuseRoot(source, 'rename');
    refuseRoot(target, 'replace');
    const realSource = await jail.resolve(source, false);
    const realTarget = await jail.resolve(target, false);
    const st = await usage.exclusive(async () => {
      const moved = await fsp.lstat(realSource);
      let replaced: fs.Stats | undefined;
      try {
        const existing = await fsp.lstat(realTarget);
        if (existing.isDirectory()) throw new Refusal(STATUS_CODE.FAILURE, 'A folder with that name exists');
        if (moved.isDirectory()) throw new Refusal(STATUS_CODE.FAILURE, 'A file with that name exists');
        if (fileKey(existing) !== fileKey(moved)) replaced = existing;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      // The server moves an `_auto.csv` into a new epoch folder with COMPLETE, two more names it never
      // refuses; renaming files there over and over would otherwise grow the folder without end.
      const moveAdds = !moved.isDirectory() && classifyUpload(target).kind === 'auto' ? 2 : 0;
      if (moveAdds > 0 && usage.entries - (replaced ? 1 : 0) + moveAdds > limits.maxEntries)
        throw tooManyEntries(limits.maxEntries);
      await fsp.rename(realSource, realTarget);
      if (replaced) {
        usage.entryRemoved();
        if (replaced.isFile()) usage.unlinked(fileKey(replaced), replaced.size);
      }
      return moved;
    });
    log.info(
      { op: 'rename', path: source, to: target, bytes: st.isFile() ? st.size : undefined },
      'sftp rename',
    );
    completion.removed(account, source);
    if (st.isDirectory()) completion.directoryAppeared(account, target);
    else completion.changed(account, target);
  };

  sftp.on('RENAME', (reqid: number, from: string, to: string) =>
    run(
      reqid,
      'rename',
      async () => {
        await rename(from, to);
        reply(reqid, STATUS_CODE.OK);
      },
      { path: from, to },
    ),
  );

  sftp.on('EXTENDED', (reqid: number, name: string, data: Buffer | undefined) =>
    run(reqid, `extended:${name}`, async () => {
      if (name !== 'posix-rename@openssh.com' || !data) {
        throw new Refusal(STATUS_CODE.OP_UNSUPPORTED, `Extension ${name} is not supported`);
      }
      const readString = (at: number): [string, number] => {
        if (at + 4 > data.length)
          throw new Refusal(STATUS_CODE.BAD_MESSAGE, 'Malformed posix-rename request');
        const len = data.readUInt32BE(at);
        if (at + 4 + len > data.length)
          throw new Refusal(STATUS_CODE.BAD_MESSAGE, 'Malformed posix-rename request');
        return [data.toString('utf8', at + 4, at + 4 + len), at + 4 + len];
      };
      const [from, next] = readString(0);
      const [to] = readString(next);
      await rename(from, to);
      reply(reqid, STATUS_CODE.OK);
    }),
  );

  sftp.on('REALPATH', (reqid: number, p: string) =>
    run(reqid, 'realpath', async () => {
      // Lexical on purpose: answering with a symlink's real target would reveal the server's layout.
      const virtualPath = vpath(p);
      if (!ended) sftp.name(reqid, [{ filename: virtualPath, longname: virtualPath, attrs: {} }] as never);
    }),
  );

  sftp.on('READLINK', (reqid: number) =>
    run(reqid, 'readlink', async () => {
      throw new Refusal(STATUS_CODE.OP_UNSUPPORTED, 'Symbolic links are not supported on this server');
    }),
  );

  sftp.on('SYMLINK', (reqid: number) =>
    run(reqid, 'symlink', async () => {
      throw new Refusal(STATUS_CODE.PERMISSION_DENIED, 'Symbolic links are not allowed on this server');
    }),
  );

  const shutdown = (): Promise<void> => {
    if (stopped) return stopped;
    ended = true;
    if (roomCheck) clearTimeout(roomCheck);
    startReads(); // waiting READs see `ended` and give up
    const open = [...handles.values()];
    handles.clear();
    // An upload still open when the connection drops is partial: never report it as complete.
    stopped = Promise.all(open.map((entry) => closeEntry(entry, true).catch(() => undefined))).then(
      () => undefined,
    );
    return stopped;
  };
  sftp.on('end', () => {
    void shutdown();
    // The client sent EOF (its batch is done): close our side too, or it waits for us forever.
    sftp.end();
  });
  sftp.on('close', () => void shutdown());
  return { stop: shutdown };
}
