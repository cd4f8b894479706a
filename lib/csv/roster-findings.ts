import { errorCode } from './error-codes';
import type { Finding } from './roster-record';

/**
 * Builds findings whose severity comes from the dictionary, so a code can never be reported with
 * two severities, and whose message always ends with how to fix it.
 */
export interface FindingPlace {
  rowNumber?: number | null;
  column?: string | null;
  value?: string | null;
}

/** Long values are cut in messages: a runaway quote can make a "value" thousands of characters long. */
export function quoteValue(value: string): string {
  return value.length > 60 ? `'${value.slice(0, 57)}...'` : `'${value}'`;
}

/**
 * Bounds of what a finding stores: a value is what the admin needs to find the cell, and the report
 * must stay small even for a file whose cells are each a megabyte.
 */
const MAX_FINDING_VALUE = 1000;
const MAX_FINDING_COLUMN = 255;

const bounded = (text: string | null | undefined, max: number): string | null =>
  text === null || text === undefined ? null : text.length > max ? text.slice(0, max) : text;

export function makeFinding(code: string, problem: string, place: FindingPlace = {}, fix?: string): Finding {
  const entry = errorCode(code);
  const rowNumber = place.rowNumber ?? null;
  const prefix = rowNumber === null ? '' : `Row ${rowNumber}: `;
  return {
    code,
    severity: entry.severity,
    rowNumber,
    column: bounded(place.column, MAX_FINDING_COLUMN),
    value: bounded(place.value, MAX_FINDING_VALUE),
    message: `${prefix}${problem} ${fix ?? entry.fix}`,
  };
}

/** Thrown inside the reader when the file as a whole cannot be used; readRoster turns it into `fatal`. */
export class RosterFileError extends Error {
  constructor(readonly finding: Finding) {
    super(finding.message);
    this.name = 'RosterFileError';
  }
}

export function fatal(
  code: string,
  problem: string,
  place: FindingPlace = {},
  fix?: string,
): RosterFileError {
  return new RosterFileError(makeFinding(code, problem, place, fix));
}
