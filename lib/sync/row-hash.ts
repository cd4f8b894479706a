import crypto from 'node:crypto';
import type { RosterRecord } from '../csv/roster-record';

/**
 * Hash of everything a row writes to its user. Stored on users.row_hash: when the next file has the
 * same hash for the user, the row costs no write at all. Platform ID is the user's own id, not data,
 * so it is left out; custom columns are hashed in sorted order so a reordered export stays unchanged.
 */
export function rowHash(r: RosterRecord): string {
  const customKeys = Object.keys(r.custom).sort();
  let custom = '';
  for (const k of customKeys) custom += `${k}\u0002${r.custom[k]}\u0003`;
  const parts = [
    r.firstName,
    r.lastName,
    r.email ?? '\u0000',
    r.internalId ?? '\u0000',
    r.accountingId ?? '\u0000',
    r.cleverId ?? '\u0000',
    r.role,
    r.school ?? '\u0000',
    r.coachEmail ?? '\u0000',
    r.phone ?? '\u0000',
    custom,
  ];
  // The one-shot crypto.hash is three times faster than a Hash object per row (a second per million).
  return crypto.hash('md5', parts.join('\u0001'), 'base64').slice(0, 22);
}

/** Custom columns as JSON with sorted keys, matching the hash. */
export function customJson(custom: Record<string, string>): string {
  const keys = Object.keys(custom);
  if (keys.length === 0) return '{}';
  const sorted: Record<string, string> = {};
  for (const k of keys.sort()) sorted[k] = custom[k];
  return JSON.stringify(sorted);
}
