import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { utils } from 'ssh2';
import { fileKey } from './account-usage';
import { closeFd, fstatP, ftruncateP, openP, readP, writeP } from './fd-io';
import { normalizeVirtualPath } from './jail-path';
import { type Attrs, applyAttrs, toAttrs } from './sftp-attrs';
import { Refusal, beingWritten, invalidHandle, tooManyEntries } from './sftp-refusals';
import { type FileEntry, type SftpSession, refuseRoot } from './sftp-session-state';

/**
 * The requests on open files: OPEN, READ, WRITE, CLOSE (of any handle), FSTAT and FSETSTAT. Reads
 * and writes are positional and asynchronous so many requests overlap (clients pipeline); uploads
 * are charged against the account's quota as they grow.
 */

const { STATUS_CODE, OPEN_MODE } = utils.sftp;
const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_EXCL, O_APPEND, O_NOFOLLOW } = fs.constants;

/**
 * Opens the file; creating a new name takes one of the account's entries (inside `exclusive`). An
 * existing file is opened as it is, so uploading over it or appending works at the limit. The
 * create is exclusive, so a name another handle creates meanwhile is opened, not counted twice.
 */
async function openCounted(session: SftpSession, real: string, flags: number): Promise<number> {
  const { usage, limits } = session;
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
}

/** The open(2) flags for SFTP's pflags; writing below the top folder only. */
function openFlags(virtualPath: string, pflags: number): { flags: number; write: boolean } {
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
  return { flags, write };
}

async function open(session: SftpSession, reqid: number, filename: string, pflags: number): Promise<void> {
  const { usage, limits } = session;
  session.checkHandleRoom();
  const virtualPath = normalizeVirtualPath(filename);
  const { flags, write } = openFlags(virtualPath, pflags);
  const real = await session.jail.resolve(virtualPath, true);
  const opened = await usage.exclusive(async () => {
    // Truncated by hand after the open: only then is it known whether another handle writes it.
    const fd = await openCounted(session, real, flags & ~O_TRUNC);
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
      if (session.ended) {
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
  if (write) session.completion.writerOpened(session.account, virtualPath);
  session.log.debug({ op: 'open', path: virtualPath, write }, 'sftp open');
  session.sftp.handle(reqid, session.newHandle(entry));
}

async function read(
  session: SftpSession,
  reqid: number,
  handle: Buffer,
  offset: number,
  length: number,
): Promise<void> {
  const { sftp } = session;
  const entry = session.fileEntry(handle);
  const len = Math.min(length, session.limits.maxReadBytes);
  await session.replyRoom.wait(len);
  try {
    if (session.ended) return;
    // Closed while waiting: its descriptor may already belong to another file.
    if (entry.closing) throw invalidHandle();
    const buf = Buffer.allocUnsafe(len);
    const work = readP(entry.fd, buf, len, offset);
    entry.pending.add(work);
    let n: number;
    try {
      n = await work;
    } finally {
      entry.pending.delete(work);
    }
    if (session.ended) return;
    if (n === 0 && len > 0) {
      sftp.status(reqid, STATUS_CODE.EOF);
      return;
    }
    entry.bytesOut += n;
    sftp.data(reqid, n === len ? buf : buf.subarray(0, n));
  } finally {
    session.replyRoom.sent(len);
  }
}

/**
 * Writes run concurrently but are answered in request order, and the first failure on a handle
 * fails every later write on it. OpenSSH's client keeps only the status of the last answer it
 * reads: an OK arriving after a refusal would hide the refusal and report a truncated upload as done.
 */
async function write(session: SftpSession, entry: FileEntry, offset: number, data: Buffer): Promise<void> {
  const { limits } = session;
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
  if (!session.usage.grow(entry.file, end, limits.quotaBytes)) {
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
}

/** WRITE is not run() like the others: its answer waits its turn behind the handle's earlier writes. */
function onWrite(session: SftpSession, reqid: number, handle: Buffer, offset: number, data: Buffer): void {
  session.touch();
  const entry = session.lookup(handle);
  if (!entry || entry.kind !== 'file' || entry.closing) {
    session.reply(reqid, STATUS_CODE.FAILURE, 'Invalid handle');
    return;
  }
  if (!session.takeRequestSlot(reqid)) return;
  const resized = entry.resized;
  const outcome = session.prepared
    .then(() => resized)
    .then(() => write(session, entry, offset, data))
    .then(
      () => undefined,
      (err: unknown) => {
        entry.failed ??= err;
        return err;
      },
    );
  const answered = entry.replies.then(async () => {
    const err = await outcome;
    session.releaseRequestSlot();
    if (err === undefined) session.reply(reqid, STATUS_CODE.OK);
    else session.fail(reqid, 'write', err, { path: entry.virtualPath });
  });
  entry.replies = answered;
  entry.pending.add(answered);
  void answered.finally(() => entry.pending.delete(answered));
}

function onFsetstat(session: SftpSession, reqid: number, handle: Buffer, attrs: Attrs): void {
  const target = session.lookup(handle);
  // Taken now, before later requests arrive: writes sent after this one wait for it to finish.
  const earlier = target?.kind === 'file' ? [...target.pending, target.resized] : [];
  const done = session.run(reqid, 'fsetstat', async () => {
    const entry = session.lookup(handle);
    if (!entry) throw invalidHandle();
    if (entry.kind === 'dir')
      await applyAttrs(session, { atime: attrs.atime, mtime: attrs.mtime }, { real: entry.realPath });
    else {
      if (attrs.size !== undefined && !entry.writable) {
        throw new Refusal(STATUS_CODE.PERMISSION_DENIED, 'File was not opened for writing');
      }
      await Promise.allSettled(earlier);
      await applyAttrs(session, attrs, { fd: entry.fd }, entry);
    }
    session.reply(reqid, STATUS_CODE.OK);
  });
  if (target?.kind === 'file') {
    // A close waits for it too: it must not truncate a descriptor already closed.
    target.pending.add(done);
    void done.finally(() => target.pending.delete(done));
    if (attrs.size !== undefined) target.resized = done;
  }
}

export function registerFileRequests(session: SftpSession): void {
  const { sftp } = session;
  sftp.on('OPEN', (reqid: number, filename: string, pflags: number) =>
    session.run(reqid, 'open', () => open(session, reqid, filename, pflags), { path: filename }),
  );
  sftp.on('READ', (reqid: number, handle: Buffer, offset: number, length: number) =>
    session.run(reqid, 'read', () => read(session, reqid, handle, offset, length)),
  );
  sftp.on('WRITE', (reqid: number, handle: Buffer, offset: number, data: Buffer) =>
    onWrite(session, reqid, handle, offset, data),
  );
  sftp.on('CLOSE', (reqid: number, handle: Buffer) =>
    session.run(reqid, 'close', async () => {
      const entry = session.lookup(handle);
      if (!entry) throw invalidHandle();
      session.forget(handle);
      await session.closeEntry(entry, false);
      session.reply(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('FSTAT', (reqid: number, handle: Buffer) =>
    session.run(reqid, 'fstat', async () => {
      const entry = session.lookup(handle);
      if (!entry) throw invalidHandle();
      const st = entry.kind === 'file' ? await fstatP(entry.fd) : await fsp.stat(entry.realPath);
      if (!session.ended) sftp.attrs(reqid, toAttrs(st));
    }),
  );
  sftp.on('FSETSTAT', (reqid: number, handle: Buffer, attrs: Attrs) =>
    onFsetstat(session, reqid, handle, attrs),
  );
}
