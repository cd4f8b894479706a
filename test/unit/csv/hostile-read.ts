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

/**
 * A file of about `totalBytes` generated chunk by chunk as the reader pulls (never held whole):
 * `head`, then `fill` repeated, then `tail`. `pulled()` says how many bytes the reader asked for.
 */
export function generatedSource(
  head: string,
  fill: string,
  totalBytes: number,
  tail = '',
): { source: Readable; pulled: () => number } {
  const chunkBytes = 64 * 1024;
  const block = Buffer.from(fill.repeat(Math.ceil(chunkBytes / fill.length))).subarray(0, chunkBytes);
  let pulled = 0;
  function* chunks(): Generator<Buffer> {
    for (const piece of [Buffer.from(head), null, Buffer.from(tail)]) {
      if (piece === null) {
        while (pulled < totalBytes) {
          const part = block.subarray(0, Math.min(block.length, totalBytes - pulled));
          pulled += part.length;
          yield part;
        }
      } else if (piece.length > 0) {
        pulled += piece.length;
        yield piece;
      }
    }
  }
  return { source: Readable.from(chunks(), { objectMode: false }), pulled: () => pulled };
}
