import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { editDistance } from '../../../lib/csv/closest-match';
import { ERROR_CODES } from '../../../lib/csv/error-codes';
import { TEMPLATE_HEADERS, normalizeHeader } from '../../../lib/csv/roster-columns';
import { type ReadResult, readSource } from './read-fixture';

/**
 * Properties of the reader over generated hostile files. Fixed seed and bounded sizes: the same
 * few hundred files on every run, in a few seconds.
 */
const SEED = 20_261_202;
const RUN_BUDGET_MS = 2000;

/** Optimal string alignment distance, the textbook full table: the reference for the banded one. */
function referenceDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The header comparison key as it was defined before it was made linear, with regexes that are
 * fine on the short strings generated here: the linear version must agree with it.
 */
const formerNormalizeHeader = (header: string): string =>
  header
    .replace(/[\uFEFF\u00A0]/g, ' ')
    .trim()
    .replace(/^["'`]+|["'`]+$/g, '')
    .toLowerCase()
    .replace(/[\s\-_]+/g, '');

const headerChar = fc.constantFrom(
  ...[`"`, `'`, '`', ' ', '-', '_', '\uFEFF', '\u00A0', '\t', 'E', 'm', 'a', 'i', 'l', 'x', 'É'],
);

/** The pieces hostile files are made of: what exporters get wrong, and what an attacker repeats. */
const block = fc.oneof(
  // Known headers and values, so some files get past the header into data rows.
  fc.constantFrom(
    ...TEMPLATE_HEADERS,
    'E-mail',
    'first_name',
    'Teacher',
    'Oak',
    'ann@district.org',
    '1.23457E+11',
  ),
  // Separators, quotes, escapes, line endings, BOM, NUL, no-break space, an accented letter.
  fc.constantFrom(',', '\n', '\r', '\r\n', '"', '""', "'", '`', '\uFEFF', '\u0000', ' ', '\u00A0', 'é'),
  // Long runs of one of them: the inputs that make a backtracking pattern or a per-cell cost explode.
  fc
    .tuple(
      fc.constantFrom("'", '`', '"', '""', '-', ' ', ',', '\r', '\n', '\u0000'),
      fc.integer({ min: 1, max: 20_000 }),
    )
    .map(([piece, n]) => piece.repeat(n)),
  fc.string({ maxLength: 12 }),
);
/** Raw bytes too: invalid UTF-8, lone continuation bytes, Windows-1252 letters. */
const rawBytes = fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes));

const hostileFile = fc
  .tuple(
    fc.boolean(),
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: block.map((text) => Buffer.from(text)) },
        { weight: 1, arbitrary: rawBytes },
      ),
      {
        maxLength: 30,
      },
    ),
  )
  .map(([withHeader, parts]) =>
    Buffer.concat([Buffer.from(withHeader ? `${TEMPLATE_HEADERS.join(',')}\n` : ''), ...parts]),
  );

const chunked = (bytes: Buffer, size: number): Readable =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
  );

async function timed(bytes: Buffer, chunkSize: number): Promise<{ read: ReadResult; ms: number }> {
  const started = process.hrtime.bigint();
  const read = await readSource(chunked(bytes, chunkSize), { fileName: 'generated.csv' });
  return { read, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

const sorted = <T>(items: T[]): string[] => items.map((item) => JSON.stringify(item)).sort();

const BY_CODE = new Map(ERROR_CODES.map((entry) => [entry.code, entry]));

describe('readRoster: properties over generated hostile files', () => {
  it('normalises headers exactly as before, in linear time', () => {
    fc.assert(
      fc.property(
        fc.array(headerChar, { maxLength: 40 }).map((chars) => chars.join('')),
        (header) => {
          assert.equal(normalizeHeader(header), formerNormalizeHeader(header));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('bounds the did-you-mean distance without changing any distance within the bound', () => {
    const word = fc.array(fc.constantFrom('a', 'b', 'c', 'e', 'm'), { maxLength: 14 }).map((c) => c.join(''));
    fc.assert(
      fc.property(word, word, fc.option(fc.integer({ min: 0, max: 5 })), (a, b, max) => {
        const full = referenceDistance(a, b);
        if (max === null) assert.equal(editDistance(a, b), full);
        else assert.equal(editDistance(a, b, max), Math.min(full, max + 1));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('reads every file within its budget, the same whatever the chunking, with findings from the dictionary', async () => {
    await fc.assert(
      fc.asyncProperty(hostileFile, fc.integer({ min: 3, max: 70_000 }), async (bytes, chunkSize) => {
        const whole = await timed(bytes, Math.max(bytes.length, 1));
        const pieces = await timed(bytes, chunkSize);
        assert.ok(whole.ms < RUN_BUDGET_MS && pieces.ms < RUN_BUDGET_MS, `${whole.ms} / ${pieces.ms} ms`);
        // A fatal finding stops the read, so what else was seen before it depends on the chunks.
        if (whole.read.summary.fatal) assert.deepEqual(pieces.read.summary.fatal, whole.read.summary.fatal);
        else {
          assert.deepEqual(pieces.read.summary, whole.read.summary);
          // The same findings; the Windows-1252 warning comes where the decoder met the first such byte.
          assert.deepEqual(sorted(pieces.read.findings), sorted(whole.read.findings));
          assert.deepEqual(pieces.read.records, whole.read.records);
        }

        const { summary, records, findings } = whole.read;
        for (const finding of [...findings, ...(summary.fatal ? [summary.fatal] : [])]) {
          const entry = BY_CODE.get(finding.code);
          assert.ok(entry, `unknown code ${finding.code}`);
          assert.equal(finding.severity, entry.severity);
          assert.ok(
            (finding.value ?? '').length <= 1000,
            'a finding keeps at most 1,000 characters of a value',
          );
        }
        if (!summary.fatal) {
          assert.equal(summary.rowsTotal, summary.rowsBlank + summary.rowsValid + summary.rowsWithErrors);
          assert.equal(records.length, summary.rowsValid);
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});
