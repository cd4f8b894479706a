import type { MatchingKey } from '../contracts/sync-config';
import type { RosterRecord } from '../csv/roster-record';

/**
 * Where each matching key lives: on a file row, and as an SQL expression over `users u`.
 * The SQL side is a whitelisted constant, never user input, so it can be inlined.
 */
export const USER_KEY_SQL: Readonly<Record<MatchingKey, string>> = Object.freeze({
  email: 'lower(u.email)',
  internal_id: 'u.internal_id',
  accounting_id: 'u.accounting_id',
  clever_id: 'u.clever_id',
  platform_id: 'u.id::text',
});

/** The column's header as a district admin sees it in the template (used in findings). */
export const KEY_LABEL: Readonly<Record<MatchingKey, string>> = Object.freeze({
  email: 'Email',
  internal_id: 'Internal ID',
  accounting_id: 'Accounting ID',
  clever_id: 'Clever ID',
  platform_id: 'Platform ID',
});

export function recordKey(record: RosterRecord, key: MatchingKey): string | null {
  switch (key) {
    case 'email':
      return record.email;
    case 'internal_id':
      return record.internalId;
    case 'accounting_id':
      return record.accountingId;
    case 'clever_id':
      return record.cleverId;
    case 'platform_id':
      // users.id::text is lower case; a platform id typed in upper case still matches.
      return record.platformId === null ? null : record.platformId.toLowerCase();
  }
}

export function userKeySql(key: MatchingKey): string {
  const sql = USER_KEY_SQL[key];
  if (!sql) throw new Error(`Unknown matching key ${String(key)}`);
  return sql;
}
