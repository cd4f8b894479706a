import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { utils } from 'ssh2';
import { normalizeVirtualPath } from './jail-path';
import { longname } from './ls-long-format';
import { toAttrs } from './sftp-attrs';
import { Refusal, invalidHandle, tooManyEntries } from './sftp-refusals';
import type { SftpSession } from './sftp-session-state';

/** The requests on folders: OPENDIR, READDIR, MKDIR and RMDIR. Listings go in batches of READDIR_BATCH. */

const { STATUS_CODE } = utils.sftp;
const READDIR_BATCH = 64;
const DIR_MODE = 0o700;

async function openDir(session: SftpSession, reqid: number, p: string): Promise<void> {
  session.checkHandleRoom();
  const virtualPath = normalizeVirtualPath(p);
  const real = await session.jail.resolve(virtualPath, true);
  const dir = await fsp.opendir(real, { bufferSize: READDIR_BATCH });
  if (session.ended) {
    await dir.close();
    return;
  }
  session.sftp.handle(
    reqid,
    session.newHandle({
      kind: 'dir',
      dir,
      virtualPath,
      realPath: real,
      queue: Promise.resolve(),
      done: false,
    }),
  );
}

async function readDir(session: SftpSession, reqid: number, handle: Buffer): Promise<void> {
  const entry = session.lookup(handle);
  if (!entry || entry.kind !== 'dir') throw invalidHandle();
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
    session.reply(reqid, STATUS_CODE.EOF);
    return;
  }
  const now = Date.now();
  const listed = await Promise.all(
    names.map(async (dirent) => {
      try {
        const st = await fsp.lstat(path.join(entry.realPath, dirent.name));
        return {
          filename: dirent.name,
          longname: longname(dirent.name, st, session.account.username, now),
          attrs: toAttrs(st),
        };
      } catch {
        return undefined; // removed between the listing and the stat
      }
    }),
  );
  const present = listed.filter((item) => item !== undefined);
  if (session.ended) return;
  if (present.length === 0 && entry.done) session.sftp.status(reqid, STATUS_CODE.EOF);
  else session.sftp.name(reqid, present as never);
}

async function makeDir(session: SftpSession, virtualPath: string, real: string): Promise<void> {
  const { usage, limits } = session;
  if (!usage.claimEntry(limits.maxEntries)) {
    // An existing folder says so, as without the limit (scripts often create theirs each time).
    const exists = await fsp.lstat(real).then(
      () => true,
      () => false,
    );
    throw exists ? new Refusal(STATUS_CODE.FAILURE, 'Already exists') : tooManyEntries(limits.maxEntries);
  }
  try {
    await fsp.mkdir(real, { mode: DIR_MODE });
  } catch (err) {
    usage.entryRemoved();
    throw err;
  }
  session.log.info({ op: 'mkdir', path: virtualPath }, 'sftp mkdir');
}

export function registerDirectoryRequests(session: SftpSession): void {
  const { sftp } = session;
  sftp.on('OPENDIR', (reqid: number, p: string) =>
    session.run(reqid, 'opendir', () => openDir(session, reqid, p), { path: p }),
  );
  sftp.on('READDIR', (reqid: number, handle: Buffer) =>
    session.run(reqid, 'readdir', () => readDir(session, reqid, handle)),
  );
  sftp.on('MKDIR', (reqid: number, p: string) =>
    session.changeName(reqid, 'mkdir', p, 'create', (virtualPath, real) =>
      makeDir(session, virtualPath, real),
    ),
  );
  sftp.on('RMDIR', (reqid: number, p: string) =>
    session.changeName(reqid, 'rmdir', p, 'remove', async (virtualPath, real) => {
      await fsp.rmdir(real);
      session.usage.entryRemoved();
      session.log.info({ op: 'rmdir', path: virtualPath }, 'sftp rmdir');
    }),
  );
}
