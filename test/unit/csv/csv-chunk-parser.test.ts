import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { CsvChunkParser, type CsvParseError } from '../../../lib/csv/csv-chunk-parser';

/** Feeds `text` in pieces cut at `cuts` (byte offsets) and collects records and the error. */
function tokenize(text: string, cuts: number[] = []): { records: string[][]; error?: CsvParseError['code'] } {
  const bytes = Buffer.from(text, 'utf8');
  const records: string[][] = [];
  const parser = new CsvChunkParser((cells) => records.push(cells));
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const err = parser.push(bytes.subarray(from, cut));
    if (err) return { records, error: err.code };
    from = cut;
  }
  const err = parser.end();
  return err ? { records, error: err.code } : { records };
}

/** csv-parse with the options the reader used before: the dialect this tokenizer keeps. */
function reference(text: string): string[][] {
  return parse(text, { relax_column_count: true, relax_quotes: true, skip_empty_lines: false }) as string[][];
}

const SAMPLES: Record<string, string> = {
  'CRLF with quoted commas and a quoted CRLF':
    'First Name,Last Name,Notes\r\nJordan,"Smith, Jr.","two\r\nlines"\r\nAnn,Lee,\r\n',
  'LF without a final line break': 'a,b,c\nd,e,f',
  'old-Mac CR, a quoted CR': 'a,b\r"x\ry",z\rlast,row\r',
  'blank lines and blank cells': 'a,b\n\n,\n,,,\nc,d\n',
  'doubled quotes and a quote inside an unquoted value': 'a,b\n"He said ""hi""",John "JJ" Smith\n',
  'a quoted empty value and a trailing comma': 'a,b,c\n"",x,\n',
  'a spaced header with quotes': 'first_name, "Email" ,Role\nAnn,ann@x.org,Teacher\n',
  'accents and emoji across byte cuts': 'name,city\nZoë Åberg,Malmö\n"Łukasz, 😀",Żory\n',
  'a lone LF inside an unquoted value of a CRLF file': 'a,b\r\nx\ny,z\r\n',
};

describe('CsvChunkParser: the same records as csv-parse, whatever the chunk boundaries', () => {
  for (const [name, text] of Object.entries(SAMPLES)) {
    it(name, () => {
      const expected = reference(text);
      assert.deepEqual(tokenize(text), { records: expected });
      // Every single cut point, and every pair of nearby ones: CRLF, "" and UTF-8 split anywhere.
      const size = Buffer.byteLength(text);
      for (let a = 1; a < size; a++) {
        assert.deepEqual(tokenize(text, [a]), { records: expected }, `cut at ${a}`);
        for (let b = a + 1; b < Math.min(size, a + 4); b++) {
          assert.deepEqual(tokenize(text, [a, b]), { records: expected }, `cuts at ${a}, ${b}`);
        }
      }
    });
  }
});

describe('CsvChunkParser: malformed files', () => {
  it('reports a quote that is never closed, after the complete records before it', () => {
    const text = 'a,b\nAnn,Lee\n"Bob,Smith\nCy,Do\n';
    for (const cuts of [[], [5], [14, 20]]) {
      const { records, error } = tokenize(text, cuts);
      assert.equal(error, 'CSV_QUOTE_NOT_CLOSED');
      assert.deepEqual(records, [
        ['a', 'b'],
        ['Ann', 'Lee'],
      ]);
    }
  });

  it('reports text after a closing quote', () => {
    const { records, error } = tokenize('a,b\n"Smith"Jr,x\n');
    assert.equal(error, 'CSV_INVALID_CLOSING_QUOTE');
    assert.deepEqual(records, [['a', 'b']]);
  });

  it('bounds an unclosed quote so it cannot hold the whole file in memory', () => {
    const parser = new CsvChunkParser(() => undefined);
    const chunk = Buffer.from('x'.repeat(64 * 1024));
    let error: CsvParseError | undefined = parser.push(Buffer.from('a\n"'));
    for (let i = 0; i < 20 && !error; i++) error = parser.push(chunk);
    assert.equal(error?.code, 'CSV_MAX_RECORD_SIZE');
  });
});
