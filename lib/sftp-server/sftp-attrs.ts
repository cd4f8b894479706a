import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import { utils } from 'ssh2';
import { fileKey } from './account-usage';
import { fstatP, ftruncateP, futimesP } from './fd-io';
import type { FileEntry, SftpSession } from './sftp-session-state';
import { Refusal, beingWritten } from './sftp-refusals';

/** File attributes as SFTP carries them: read from a stat, and set (size and times only). */

const { STATUS_CODE } = utils.sftp;

export interface Attrs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: number;
  mtime?: number;
}

export const toAttrs = (st: fs.Stats) => ({
  mode: st.mode,
  uid: st.uid,
  gid: st.gid,
  size: st.size,
  atime: Math.floor(st.atimeMs / 1000),
  mtime: Math.floor(st.mtimeMs / 1000),
});

/** Size and times; permissions and ownership are the server's business and silently kept. */
export async function applyAttrs(
  session: SftpSession,
  attrs: Attrs,
  target: { fd: number } | { real: string },
  entry?: FileEntry,
): Promise<void> {
  const { limits, usage } = session;
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
    if ('fd' in target) await futimesP(target.fd, atime, mtime);
    else await fsp.utimes(target.real, atime, mtime);
  }
}
