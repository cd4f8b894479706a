/**
 * What the CSV reader hands to staging: one normalised record per usable data row, and findings
 * (errors and warnings) with enough context for an admin to fix the file.
 * This is the contract between lib/csv (reading, validating) and lib/sync (staging, planning).
 */
// The matching key is a config choice, defined with the other choices in lib/contracts.
export type { MatchingKey } from '../contracts/sync-config';

export type Severity = 'fatal' | 'error' | 'warning';

export interface RosterRecord {
  /** Line number of the row's first line in the file as a spreadsheet shows it (header is row 1). */
  rowNumber: number;
  firstName: string;
  lastName: string;
  /** Lower-cased and trimmed. */
  email: string | null;
  internalId: string | null;
  accountingId: string | null;
  cleverId: string | null;
  platformId: string | null;
  /** Canonical role name, e.g. 'Teacher', 'System Admin'. */
  role: string;
  /** Exact name of an existing school of the district; null for district-wide roles. */
  school: string | null;
  coachEmail: string | null;
  phone: string | null;
  /** Unknown columns, by their header as written in the file. */
  custom: Record<string, string>;
}

export interface Finding {
  code: string;
  severity: Severity;
  rowNumber: number | null;
  column: string | null;
  value: string | null;
  message: string;
}
