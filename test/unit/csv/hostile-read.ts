import { Readable } from 'node:stream';
import type { ReadRosterOptions } from '../../../lib/csv/read-roster';
import { type ReadResult, readSource } from './read-fixture';

/** What the reader gave, and how long it took: the budget a hostile file must stay within. */
export interface TimedRead extends ReadResult {
  ms: number;
}

export async function timedRead(source: Readable, opts: Partial<ReadRosterOptions> = {}): Promise<TimedRead> {
  const started = process.hrtime.bigint();
  const result = await readSource(source, { fileName: 'hostile.csv', ...opts });
  return { ...result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

export const textSource = (text: string | Buffer): Readable => Readable.from([Buffer.from(text)]);
