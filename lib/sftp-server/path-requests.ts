import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import { utils } from 'ssh2';
import { fileKey } from './account-usage';
import { normalizeVirtualPath } from './jail-path';
import { type Attrs, applyAttrs, toAttrs } from './sftp-attrs';
import { Refusal, tooManyEntries } from './sftp-refusals';
import { type SftpSession, refuseRoot } from './sftp-session-state';
import { classifyUpload } from './upload-rules';

/**
 * The requests on names: STAT, LSTAT, SETSTAT, REMOVE, RENAME (and OpenSSH's posix-rename),
 * REALPATH; symbolic links are refused. Every path goes through the account's jail.
 */

const { STATUS_CODE } = utils.sftp;

function statPath(session: SftpSession, reqid: number, op: 'stat' | 'lstat', input: string): Promise<void> {
  return session.run(
    reqid,
    op,
    async () => {
      const virtualPath = normalizeVirtualPath(input);
      const real = await session.jail.resolve(virtualPath, op === 'stat');
      const st = op === 'stat' ? await fsp.stat(real) : await fsp.lstat(real);
      if (!session.ended) session.sftp.attrs(reqid, toAttrs(st));
    },
    { path: input },
  );
}

async function remove(session: SftpSession, virtualPath: string, real: string): Promise<void> {
  const { usage } = session;
  const st = await usage.exclusive(async () => {
    const found = await fsp.lstat(real);
    if (found.isDirectory()) throw new Refusal(STATUS_CODE.FAILURE, 'Is a directory; use rmdir');
    await fsp.unlink(real);
    usage.entryRemoved();
    if (found.isFile()) usage.unlinked(fileKey(found), found.size);
    return found;
  });
  session.completion.removed(session.account, virtualPath);
  session.log.info({ op: 'remove', path: virtualPath, bytes: st.size }, 'sftp remove');
}

/** Rename with overwrite of an existing file (what upload-then-rename clients expect). */
async function rename(session: SftpSession, from: string, to: string): Promise<void> {
  const { usage, limits, jail, account, completion } = session;
  const source = normalizeVirtualPath(from);
  const target = normalizeVirtualPath(to);
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
  session.log.info(
    { op: 'rename', path: source, to: target, bytes: st.isFile() ? st.size : undefined },
    'sftp rename',
  );
  completion.removed(account, source);
  if (st.isDirectory()) completion.directoryAppeared(account, target);
  else completion.changed(account, target);
}

/** The two paths of a posix-rename@openssh.com request, each an SSH string (length, then bytes). */
function posixRenamePaths(data: Buffer): [string, string] {
  const readString = (at: number): [string, number] => {
    if (at + 4 > data.length) throw new Refusal(STATUS_CODE.BAD_MESSAGE, 'Malformed posix-rename request');
    const len = data.readUInt32BE(at);
    if (at + 4 + len > data.length)
      throw new Refusal(STATUS_CODE.BAD_MESSAGE, 'Malformed posix-rename request');
    return [data.toString('utf8', at + 4, at + 4 + len), at + 4 + len];
  };
  const [from, next] = readString(0);
  const [to] = readString(next);
  return [from, to];
}

export function registerPathRequests(session: SftpSession): void {
  const { sftp } = session;
  sftp.on('STAT', (reqid: number, p: string) => statPath(session, reqid, 'stat', p));
  sftp.on('LSTAT', (reqid: number, p: string) => statPath(session, reqid, 'lstat', p));
  sftp.on('SETSTAT', (reqid: number, p: string, attrs: Attrs) =>
    session.run(
      reqid,
      'setstat',
      async () => {
        const real = await session.jail.resolve(normalizeVirtualPath(p), true);
        await applyAttrs(session, attrs, { real });
        session.reply(reqid, STATUS_CODE.OK);
      },
      { path: p },
    ),
  );
  sftp.on('REMOVE', (reqid: number, p: string) =>
    session.changeName(reqid, 'remove', p, 'remove', (virtualPath, real) =>
      remove(session, virtualPath, real),
    ),
  );
  sftp.on('RENAME', (reqid: number, from: string, to: string) =>
    session.run(
      reqid,
      'rename',
      async () => {
        await rename(session, from, to);
        session.reply(reqid, STATUS_CODE.OK);
      },
      { path: from, to },
    ),
  );
  sftp.on('EXTENDED', (reqid: number, name: string, data: Buffer | undefined) =>
    session.run(reqid, `extended:${name}`, async () => {
      if (name !== 'posix-rename@openssh.com' || !data) {
        throw new Refusal(STATUS_CODE.OP_UNSUPPORTED, `Extension ${name} is not supported`);
      }
      const [from, to] = posixRenamePaths(data);
      await rename(session, from, to);
      session.reply(reqid, STATUS_CODE.OK);
    }),
  );
  sftp.on('REALPATH', (reqid: number, p: string) =>
    session.run(reqid, 'realpath', async () => {
      // Lexical on purpose: answering with a symlink's real target would reveal the server's layout.
      const virtualPath = normalizeVirtualPath(p);
      if (!session.ended)
        sftp.name(reqid, [{ filename: virtualPath, longname: virtualPath, attrs: {} }] as never);
    }),
  );
  sftp.on('READLINK', (reqid: number) =>
    session.run(reqid, 'readlink', async () => {
      throw new Refusal(STATUS_CODE.OP_UNSUPPORTED, 'Symbolic links are not supported on this server');
    }),
  );
  sftp.on('SYMLINK', (reqid: number) =>
    session.run(reqid, 'symlink', async () => {
      throw new Refusal(STATUS_CODE.PERMISSION_DENIED, 'Symbolic links are not allowed on this server');
    }),
  );
}
