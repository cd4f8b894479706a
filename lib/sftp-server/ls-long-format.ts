import type { Stats } from 'node:fs';

/**
 * The `longname` of a directory entry in `ls -l` form, as OpenSSH's server writes it
 * (`%s %3u %-8.8s %-8.8s %8llu %s %s`): GUI clients that cannot read attributes parse this text.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

export function modeString(mode: number): string {
  const type = (mode & 0o170000) >>> 0;
  const kind =
    type === 0o040000
      ? 'd'
      : type === 0o120000
        ? 'l'
        : type === 0o010000
          ? 'p'
          : type === 0o140000
            ? 's'
            : '-';
  const bits = 'rwxrwxrwx';
  let perms = '';
  for (let i = 0; i < 9; i++) perms += mode & (1 << (8 - i)) ? bits[i] : '-';
  return kind + perms;
}

function pad(value: string, width: number, left = false): string {
  return left ? value.padEnd(width) : value.padStart(width);
}

export function longname(name: string, stats: Stats, owner: string, now = Date.now()): string {
  const mtime = stats.mtime;
  const day = String(mtime.getUTCDate()).padStart(2, ' ');
  const recent = Math.abs(now - mtime.getTime()) < SIX_MONTHS_MS;
  const when = recent
    ? `${MONTHS[mtime.getUTCMonth()]} ${day} ${String(mtime.getUTCHours()).padStart(2, '0')}:${String(mtime.getUTCMinutes()).padStart(2, '0')}`
    : `${MONTHS[mtime.getUTCMonth()]} ${day}  ${mtime.getUTCFullYear()}`;
  const user = owner.slice(0, 8);
  return `${modeString(stats.mode)} ${pad(String(stats.nlink), 3)} ${pad(user, 8, true)} ${pad(user, 8, true)} ${pad(String(stats.size), 8)} ${when} ${name}`;
}
