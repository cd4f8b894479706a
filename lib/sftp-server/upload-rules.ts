import path from 'node:path';
import { isTemporaryName } from '../files/temporary-name';

/**
 * Which uploaded names mean what. Pure, so the rules are unit-tested on their own.
 *
 * - `/upload/YYYYMMDD-HHMMSS/` is an epoch directory: complete when an empty `COMPLETE` appears in it.
 * - `/upload/<name>_auto.csv` is moved by the server into a new epoch directory with `COMPLETE`.
 * - any other file directly in `/` or `/upload/` is complete once closed and unchanged for the quiet period.
 * - temporary names (`.part`, `.filepart`, `.tmp`, dot-files...) are ignored: clients rename them when done.
 */

export const UPLOAD_DIR = '/upload';
export const COMPLETE_MARKER = 'COMPLETE';
/** Digits only, not a calendar check: exporters write e.g. `20200101-139029`. */
export const EPOCH_NAME = /^\d{8}-\d{6}$/;
const AUTO_SUFFIX = /_auto\.csv$/i;
/** Folders whose plain files are watched for the quiet period (epoch directories are handled apart). */
export const WATCHED_DIRS = ['/', UPLOAD_DIR];

export type UploadKind =
  | { kind: 'ignored' }
  | { kind: 'epoch-marker'; epochDir: string }
  | { kind: 'epoch-member'; epochDir: string }
  | { kind: 'auto' }
  | { kind: 'plain' };

export function isEpochDir(virtualDir: string): boolean {
  return path.posix.dirname(virtualDir) === UPLOAD_DIR && EPOCH_NAME.test(path.posix.basename(virtualDir));
}

export function classifyUpload(virtualPath: string): UploadKind {
  const dir = path.posix.dirname(virtualPath);
  const name = path.posix.basename(virtualPath);
  if (isEpochDir(dir)) {
    if (name === COMPLETE_MARKER) return { kind: 'epoch-marker', epochDir: dir };
    return isTemporaryName(name) ? { kind: 'ignored' } : { kind: 'epoch-member', epochDir: dir };
  }
  if (isTemporaryName(name)) return { kind: 'ignored' };
  if (dir === UPLOAD_DIR && AUTO_SUFFIX.test(name)) return { kind: 'auto' };
  if (WATCHED_DIRS.includes(dir)) return { kind: 'plain' };
  return { kind: 'ignored' };
}

/** `YYYYMMDD-HHMMSS` in UTC. */
export function epochName(at: Date): string {
  const iso = at.toISOString(); // 2026-11-23T11:27:52.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}
