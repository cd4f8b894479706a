import type { MatchingKey } from '../contracts/sync-config';
import type { RosterRecord } from './roster-record';

/**
 * The default template's known columns, how headers are matched to them, and which are required.
 * Any other column becomes a custom field, keyed by its header as written.
 */
export type KnownField = Exclude<keyof RosterRecord, 'rowNumber' | 'custom'>;

export interface KnownColumn {
  field: KnownField;
  /** Header as the blank template writes it. */
  header: string;
}

/** In template order: a district that fills in the blank template gets exactly these columns. */
export const KNOWN_COLUMNS: readonly KnownColumn[] = Object.freeze([
  { field: 'firstName', header: 'First Name' },
  { field: 'lastName', header: 'Last Name' },
  { field: 'email', header: 'Email' },
  { field: 'internalId', header: 'Internal ID' },
  { field: 'school', header: 'School' },
  { field: 'role', header: 'Role' },
  { field: 'coachEmail', header: 'Coach Email' },
  { field: 'accountingId', header: 'Accounting ID' },
  { field: 'cleverId', header: 'Clever ID' },
  { field: 'platformId', header: 'Platform ID' },
  { field: 'phone', header: 'Phone' },
]);

export const TEMPLATE_HEADERS: readonly string[] = Object.freeze(KNOWN_COLUMNS.map((c) => c.header));

/** Longest value accepted in a known column, and in a custom column. */
export const MAX_KNOWN_VALUE = 255;
export const MAX_CUSTOM_VALUE = 1000;
/**
 * Bounds of the header row. Every custom header is a key in each user's custom fields, so a header
 * row of thousands of columns, or one runaway "header" of a megabyte, would be copied into every user.
 */
export const MAX_CUSTOM_COLUMNS = 200;
export const MAX_HEADER_CHARS = 255;
/**
 * Cells of a line looked at when deciding whether it is the header, and the widest header row read:
 * room for the template's columns, the custom ones and empty ones between them, far short of the
 * line of a million commas that would otherwise be normalised cell by cell.
 */
export const MAX_HEADER_CELLS = 1000;

export const KEY_FIELD: Readonly<Record<MatchingKey, KnownField>> = Object.freeze({
  email: 'email',
  internal_id: 'internalId',
  accounting_id: 'accountingId',
  clever_id: 'cleverId',
  platform_id: 'platformId',
});

export const ID_FIELDS: readonly KnownField[] = ['internalId', 'accountingId', 'cleverId', 'platformId'];

export function requiredFields(matchingKey: MatchingKey): KnownField[] {
  return ['firstName', 'lastName', 'role', KEY_FIELD[matchingKey]];
}

export function headerOf(field: KnownField): string {
  return KNOWN_COLUMNS.find((c) => c.field === field)!.header;
}

const SEPARATORS = /[\s\-_]+/g;

const isQuote = (code: number): boolean => code === 0x22 || code === 0x27 || code === 0x60;

/**
 * The text without the runs of quotes (" ' `) at its start and end. Scanned from both ends rather
 * than matched with /^["'`]+|["'`]+$/: on a long inner run of quotes that regex backtracks
 * quadratically (a header cell of 60,000 quotes took over 10 s).
 */
export function withoutSurroundingQuotes(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isQuote(text.charCodeAt(start))) start++;
  while (end > start && isQuote(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * Header comparison key: case, surrounding spaces and quotes, BOM/no-break spaces, and spaces,
 * dashes and underscores do not matter — `first_name`, `FIRST-NAME`, ` "First Name" ` and
 * `FirstName` are all First Name. Dropping separators entirely is safe because no two known
 * columns differ only by them.
 */
export function normalizeHeader(header: string): string {
  return withoutSurroundingQuotes(header.replace(/[\uFEFF\u00A0]/g, ' ').trim())
    .toLowerCase()
    .replace(SEPARATORS, '');
}

const BY_NORMALIZED = new Map(KNOWN_COLUMNS.map((c) => [normalizeHeader(c.header), c]));

export function knownColumn(header: string): KnownColumn | undefined {
  return BY_NORMALIZED.get(normalizeHeader(header));
}
