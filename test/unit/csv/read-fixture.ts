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
