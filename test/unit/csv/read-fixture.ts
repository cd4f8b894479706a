import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type ReadRosterOptions, type ReadSummary, readRoster } from '../../../lib/csv/read-roster';
import type { Finding, RosterRecord } from '../../../lib/csv/roster-record';
import { FIXTURES } from '../../support/paths';

/** What an admin would look at after a run: every record, every finding, the summary. */
export interface ReadResult {
  records: RosterRecord[];
  findings: Finding[];
  summary: ReadSummary;
  batches: number;
  errorKeys: Array<{ rowNumber: number; key: string }>;
}

export const SCHOOLS = ['Minty Middle School', 'Oak Grove Elementary', 'Lincoln High School'];

/** The default template's columns in order, as the docs and the blank template show them. */
export const TEMPLATE_COLUMNS = [
  'First Name',
  'Last Name',
  'Email',
  'Internal ID',
  'School',
  'Role',
  'Coach Email',
  'Accounting ID',
  'Clever ID',
  'Platform ID',
  'Phone',
];

const COUNT_OF = {
  total: 'rowsTotal',
  valid: 'rowsValid',
  errors: 'rowsWithErrors',
  blank: 'rowsBlank',
  warnings: 'warningCount',
} as const;

/** Asserts the summary's row counts that `expected` names (total, valid, errors, blank, warnings). */
export function assertRowCounts(
  summary: ReadSummary,
  expected: Partial<Record<keyof typeof COUNT_OF, number>>,
): void {
  const names = Object.keys(expected) as Array<keyof typeof COUNT_OF>;
  assert.deepEqual(Object.fromEntries(names.map((name) => [name, summary[COUNT_OF[name]]])), expected);
}

export const fixturePath = (name: string): string => path.join(FIXTURES, 'csv', name);

export async function readSource(
  source: Readable,
  opts: Partial<ReadRosterOptions> & { fileName: string },
): Promise<ReadResult> {
  const records: RosterRecord[] = [];
  const findings: Finding[] = [];
  const errorKeys: ReadResult['errorKeys'] = [];
  let batches = 0;
  const gen = readRoster(source, { matchingKey: 'email', schools: SCHOOLS, ...opts });
  let next = await gen.next();
  while (!next.done) {
    batches++;
    records.push(...next.value.records);
    findings.push(...next.value.findings);
    errorKeys.push(...(next.value.errorKeys ?? []));
    next = await gen.next();
  }
  return { records, findings, summary: next.value, batches, errorKeys };
}

/** Reads a fixture file the way the sync does: streamed from disk (optionally in tiny chunks). */
export function readFixture(
  name: string,
  opts: Partial<ReadRosterOptions> = {},
  highWaterMark?: number,
): Promise<ReadResult> {
  return readSource(fs.createReadStream(fixturePath(name), highWaterMark ? { highWaterMark } : {}), {
    fileName: name,
    ...opts,
  });
}

export function readText(text: string | Buffer, opts: Partial<ReadRosterOptions> = {}): Promise<ReadResult> {
  return readSource(Readable.from([Buffer.from(text)]), { fileName: 'inline.csv', ...opts });
}

export const codes = (findings: Finding[]): string[] => findings.map((f) => f.code);
export const atRow = (findings: Finding[], row: number): Finding[] =>
  findings.filter((f) => f.rowNumber === row);
