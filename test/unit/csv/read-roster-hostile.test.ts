import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { errorCode } from '../../../lib/csv/error-codes';
import { readRoster } from '../../../lib/csv/read-roster';
import type { ReadResult } from './read-fixture';
import { generatedSource, textSource, timedRead } from './hostile-read';

/**
 * Pathological files, each read within a time budget (and, for the huge ones, a memory budget),
 * checked for the finding a district admin would get. The budgets are generous for a busy shared
 * machine; the reader needs milliseconds for most of them.
 */
const TEMPLATE = 'First Name,Last Name,Email,Role,School';
const ROW = 'Ann,Lee,ann@district.org,Teacher,Oak Grove Elementary';
const MB = 1024 * 1024;

/** The file-level finding, which must say what is wrong and end with how to fix it. */
function fatalOf(read: ReadResult, code: string): string {
  assert.equal(read.summary.fatal?.code, code, read.summary.fatal?.message);
  assert.equal(read.summary.fatal!.severity, 'fatal');
  assert.ok(read.summary.fatal!.message.endsWith(errorCode(code).fix), read.summary.fatal!.message);
  assert.ok(read.summary.fatal!.message.length < 2000, 'the message stays readable');
  return read.summary.fatal!.message;
}

/** V8's collector, so a test can measure what the reader keeps rather than what it has not freed yet. */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const withinMs = (read: { ms: number }, budget: number): void =>
  assert.ok(read.ms < budget, `${Math.round(read.ms)} ms, budget ${budget} ms`);

describe('readRoster: hostile headers', () => {
  it('refuses a header cell holding a long run of quotes within a second, naming the column', async () => {
    // A spreadsheet cell pasted full of apostrophes: the shape that made the quote trimming quadratic.
    const read = await timedRead(textSource(`${TEMPLATE},x${"'".repeat(60_000)}x\n${ROW},v\n`));
    withinMs(read, 1000);
    assert.match(
      fatalOf(read, 'HEADER_TOO_LARGE'),
      /^Row 1: The header of column F is 60002 characters long \(at most 255\): 'x''''.*Export only the template’s columns/,
    );
    assert.deepEqual(read.records, []);
  });

  for (const [quote, habit] of [
    ['`', 'backticks, which some exporters use as their quote character'],
    ['""', 'doubled double quotes inside a quoted header, as an escaping exporter writes them'],
  ]) {
    it(`refuses a header cell of 200,000 ${habit}, within a second`, async () => {
      const cell = quote === '""' ? `"x${'""'.repeat(200_000)}x"` : `x${quote.repeat(200_000)}x`;
      const read = await timedRead(textSource(`${TEMPLATE},${cell}\n${ROW},v\n`));
      withinMs(read, 1000);
      assert.match(fatalOf(read, 'HEADER_TOO_LARGE'), /The header of column F is 200002 characters long/);
    });
  }

  it('refuses a header made of a runaway run of separators, measured without normalising it', async () => {
    // "E-m-a-i-l" gone wrong: 600,000 spaces, dashes and underscores normalise away to a known column.
    const read = await timedRead(textSource(`E${'-_ '.repeat(200_000)}mail,${TEMPLATE}\n${ROW},v\n`));
    withinMs(read, 1000);
    assert.match(fatalOf(read, 'HEADER_TOO_LARGE'), /The header of column A is 600005 characters long/);
  });

  it('refuses a header row wider than 1,000 columns, with its width', async () => {
    // A wide export with every field of the SIS: thousands of named columns.
    const wide = Array.from({ length: 1500 }, (_, i) => `,Field ${i + 1}`).join('');
    const read = await timedRead(textSource(`${TEMPLATE}${wide}\n${ROW}\n`));
    withinMs(read, 1000);
    assert.match(
      fatalOf(read, 'HEADER_TOO_LARGE'),
      /^Row 1: The header row has 1505 columns \(at most 1000 are read: the template's, up to 200 custom columns and empty ones\)\./,
    );
  });

  it('refuses a header of a million columns as soon as its first 20,000 values are read', async () => {
    // A million columns, generated: one line of `,x` repeated, read chunk by chunk.
    const { source, pulled } = generatedSource(TEMPLATE, ',x', 2_000_000);
    const read = await timedRead(source);
    withinMs(read, 1000);
    assert.match(
      fatalOf(read, 'ROW_TOO_LARGE'),
      /^Row 1: The row has more than 20,000 values \(a spreadsheet has at most 16,384 columns\)\./,
    );
    assert.ok(pulled() < MB, `read ${pulled()} bytes of the 2 MB line`);
  });

  it('refuses a line of a million commas (no characters to count, only empty values)', async () => {
    // Excel's trailing empty columns taken to the extreme.
    const read = await timedRead(textSource(`${TEMPLATE}${','.repeat(1_000_000)}x\n${ROW}\n`));
    withinMs(read, 1000);
    assert.match(fatalOf(read, 'ROW_TOO_LARGE'), /^Row 1: The row has more than 20,000 values/);
  });

  it('stops looking for the header after ten lines, and says what it looked at', async () => {
    // A report export with a long banner above the table.
    const banner = Array.from({ length: 12 }, (_, i) => `District report page ${i + 1},,,`).join('\n');
    const read = await timedRead(textSource(`${banner}\n${TEMPLATE}\n${ROW}\n`));
    withinMs(read, 1000);
    assert.match(
      fatalOf(read, 'HEADER_NOT_FOUND'),
      /^Row 1: None of the first 10 non-blank lines \(rows 1 to 10\) is a header row: none names two of the template's columns \(First Name, Last Name, Email, .*\) in its first 1,000 values\. Row 1 reads 'District report page 1'\. Put the header row/,
    );
  });

  it('finds the header below nine huge metadata lines, scoring only the start of each', async () => {
    // Export banners pasted from somewhere with 200,000 characters of quotes and 5,000 cells each.
    const line = `${"'".repeat(200_000)}x,${'a,'.repeat(5000)}`;
    const read = await timedRead(textSource(`${`${line}\n`.repeat(9)}${TEMPLATE}\n${ROW}\n`));
    withinMs(read, 2000);
    assert.equal(read.summary.fatal, undefined);
    assert.deepEqual(
      read.records.map((r) => [r.rowNumber, r.email]),
      [[11, 'ann@district.org']],
    );
    const skipped = read.findings.filter((f) => f.code === 'METADATA_LINE_SKIPPED');
    assert.equal(skipped.length, 9);
    assert.ok(skipped.every((f) => f.message.length < 500 && (f.value ?? '').length <= 255));
  });
});

describe('readRoster: hostile rows', () => {
  it('refuses a single 100 MB line fast, reading little of it, with memory bounded', async () => {
    // A file with no line breaks at all (a binary dump, or an export with a wrong record separator),
    // generated as a stream: never held in memory.
    const { source, pulled } = generatedSource('', 'abcdefgh', 100 * MB);
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    source.on('data', () => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)));
    const read = await timedRead(source);
    withinMs(read, 2000);
    assert.match(
      fatalOf(read, 'ROW_TOO_LARGE'),
      /^Row 1: The row is more than 1,000,000 characters long with no line break, where a roster row has a few hundred\./,
    );
    assert.ok(pulled() < 8 * MB, `read ${pulled()} bytes of 100 MB`);
    assert.ok(heapPeak - heapBefore < 64 * MB, `heap grew ${Math.round((heapPeak - heapBefore) / MB)} MB`);
  });

  it('refuses a quote that never closes before the rest of a 50 MB file is swallowed', async () => {
    // A stray double quote in a name ("Bo "The Kid), followed by a large file of ordinary rows.
    const { source, pulled } = generatedSource(
      `${TEMPLATE}\n${ROW}\nBo,"Ray,bo@district.org,Teacher,Oak\n`,
      `${ROW}\n`,
      50 * MB,
    );
    const read = await timedRead(source);
    withinMs(read, 2000);
    assert.match(fatalOf(read, 'MALFORMED_CSV'), /^Row 3: A double quote opened on this row is never closed/);
    assert.ok(pulled() < 8 * MB, `read ${pulled()} bytes of 50 MB`);
  });

  it('refuses a quote left open at the end of the file, naming its row', async () => {
    // An export cut after an opening quote.
    const read = await timedRead(textSource(`${TEMPLATE}\n${ROW}\nBo,"Ray,bo@district.org,Teacher,Oak\n`));
    assert.match(fatalOf(read, 'MALFORMED_CSV'), /^Row 3: A double quote opened on this row is never closed/);
  });

  it('skips a row whose quoted value is 400,000 escaped quotes, with a short report', async () => {
    // Deeply repeated escapes: a value of doubled quotes, as a broken escaping loop writes it.
    const read = await timedRead(
      textSource(`${TEMPLATE},Notes\n${ROW},"${'""'.repeat(400_000)}"\n${ROW.replace(/Ann/g, 'Bo')},n\n`),
    );
    withinMs(read, 1000);
    assert.equal(read.summary.fatal, undefined);
    assert.deepEqual(
      read.findings.map((f) => [f.code, f.rowNumber]),
      [['VALUE_TOO_LONG', 2]],
    );
    assert.match(
      read.findings[0].message,
      /^Row 2: Notes is 400000 characters long \(at most 1000 in a custom column\): '"""/,
    );
    assert.ok(read.findings[0].message.length < 500 && read.findings[0].value!.length === 1000);
    assert.deepEqual(
      read.records.map((r) => r.firstName),
      ['Bo'],
    );
  });

  it('remembers no role spelling longer than a value may be, however many rows have one', async () => {
    // Rows of garbage in the Role column, each different: caching them whole would grow without end.
    const gc = collectGarbage();
    let heapAtLastRow = 0;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    function* rows(): Generator<Buffer> {
      yield Buffer.from(`${TEMPLATE}\n`);
      for (let i = 0; i < 24; i++) {
        yield Buffer.from(`Ann,Lee,a${i}@district.org,${i}${'r'.repeat(400_000)},Oak Grove Elementary\n`);
      }
      gc();
      heapAtLastRow = process.memoryUsage().heapUsed;
    }
    // Batches are dropped as they come, as staging does, so only what the reader keeps is measured.
    const gen = readRoster(Readable.from(rows(), { objectMode: false }), {
      fileName: 'roles.csv',
      matchingKey: 'email',
      schools: ['Oak Grove Elementary'],
    });
    const seen = new Set<string>();
    let next = await gen.next();
    while (!next.done) {
      for (const finding of next.value.findings) seen.add(finding.code);
      next = await gen.next();
    }
    assert.equal(next.value.rowsWithErrors, 24);
    assert.deepEqual([...seen], ['VALUE_TOO_LONG', 'UNKNOWN_ROLE']);
    const grown = heapAtLastRow - heapBefore;
    assert.ok(grown < 4 * MB, `heap grew ${(grown / MB).toFixed(1)} MB while reading 9.6 MB of roles`);
  });

  it('spends a bounded time on suggestions for thousands of different unknown schools', async () => {
    // Shifted columns put other data in School, every value different, in a district of 1,000 schools.
    const schools = Array.from(
      { length: 1000 },
      (_, i) => `Springfield Eastern Consolidated School Number ${i}`,
    );
    const rows = Array.from(
      { length: 5000 },
      (_, i) => `Ann,Lee,a${i}@district.org,Teacher,${'Z'.repeat(200)} ${i}`,
    );
    const read = await timedRead(textSource(`${TEMPLATE}\n${rows.join('\n')}\n`), { schools });
    withinMs(read, 5000);
    assert.equal(read.findings.length, 5000);
    assert.ok(read.findings.every((f) => f.code === 'UNKNOWN_SCHOOL'));
    assert.match(
      read.findings[0].message,
      /^Row 2: School 'Z+\.\.\.' does not exist in this district, and no school of the district has a similar name \(the nearest is 'Springfield/,
    );
    assert.match(
      read.findings[4999].message,
      /^Row 5001: School 'Z+\.\.\.' does not exist in this district\. Use the school’s name exactly as the platform shows it/,
    );
  });

  it('reads two exports glued together, BOM and header of the second one mid-file, as row errors', async () => {
    // Two files concatenated by a script: the second BOM and header land in the middle.
    const read = await timedRead(
      textSource(
        `\uFEFF${TEMPLATE}\n${ROW}\n\uFEFF${TEMPLATE}\nBo,Ray,\uFEFFbo@district.org,Teacher,Oak Grove Elementary\n`,
      ),
    );
    withinMs(read, 1000);
    assert.equal(read.summary.fatal, undefined);
    assert.deepEqual(
      read.records.map((r) => [r.rowNumber, r.email]),
      [
        [2, 'ann@district.org'],
        [4, 'bo@district.org'],
      ],
    );
    assert.deepEqual(
      read.findings.map((f) => [f.code, f.rowNumber]),
      [
        ['INVALID_EMAIL', 3],
        ['UNKNOWN_ROLE', 3],
        ['UNKNOWN_SCHOOL', 3],
      ],
    );
    assert.match(read.findings[1].message, /^Row 3: Role 'Role' is not a known role/);
  });

  it('reads rows separated by lone CRs, and a million blank CR lines in linear time', async () => {
    // Classic Mac OS line endings, and an export that pads with empty lines.
    const read = await timedRead(
      textSource(`${TEMPLATE}\r${ROW}\r${'\r'.repeat(1_000_000)}${ROW.replace(/ann/g, 'bo')}\r`),
    );
    withinMs(read, 3000);
    assert.equal(read.summary.fatal, undefined);
    assert.deepEqual(
      read.records.map((r) => r.rowNumber),
      [2, 1_000_003],
    );
    assert.equal(read.summary.rowsBlank, 1_000_000);
    assert.match(read.findings[0].message, /^Skipped 1000000 blank rows \(row 3, 4, 5, .*, \.\.\.\)\./);
  });

  it('drops NULs anywhere past the start of the file, even megabytes of them', async () => {
    // A fixed-width export padded with NUL bytes, or a file copied from a disk image.
    const head = `${TEMPLATE}\n${`${ROW}\n`.repeat(100)}B\u0000o,Ray,bo@district.org,Teacher,Oak Grove Elementary`;
    const { source } = generatedSource(head, '\u0000', 4 * MB, '\n');
    const read = await timedRead(source);
    withinMs(read, 3000);
    assert.equal(read.summary.fatal, undefined);
    assert.deepEqual(read.findings, []);
    assert.equal(read.records.length, 101);
    assert.equal(read.records[100].firstName, 'Bo');
  });

  it('refuses a file that starts with NULs as binary data', async () => {
    // A picture or database file renamed to .csv.
    const read = await timedRead(
      textSource(Buffer.concat([Buffer.from(`${TEMPLATE}\n`), Buffer.alloc(5000)])),
    );
    // Its fix names what to do with this kind of file, not the dictionary's general one.
    assert.equal(read.summary.fatal?.code, 'UNSUPPORTED_FILE');
    assert.match(
      read.summary.fatal!.message,
      /^'hostile\.csv' contains binary data, not text\. Export the roster as CSV text: in a spreadsheet program choose Save As/,
    );
  });
});

describe('readRoster: invalid encodings', () => {
  const utf16 = (text: string): Buffer => Buffer.from(`\uFEFF${text}`, 'utf16le');

  it('refuses a UTF-16 file holding half of a character pair, naming the row', async () => {
    // An emoji cut in half by a tool that counts UTF-16 units, in a UTF-16 export ("Unicode Text").
    const file = Buffer.concat([
      utf16(`${TEMPLATE}\n${ROW}\nBo`),
      Buffer.from([0x3d, 0xd8]),
      Buffer.from(',Ray,bo@district.org,Teacher,Oak Grove Elementary\n', 'utf16le'),
    ]);
    const read = await timedRead(textSource(file));
    assert.match(
      fatalOf(read, 'MIXED_ENCODING'),
      /^Row 3: At row 3 the file stops being valid UTF-16: it holds half of a character that takes two UTF-16 units\. Save the file as 'CSV UTF-8/,
    );
  });

  for (const [tail, what] of [
    [Buffer.from([0x41]), 'an odd byte'],
    [Buffer.from([0x3d, 0xd8]), 'the first half of a character pair'],
  ] as const) {
    it(`refuses a UTF-16 file that ends in ${what} as cut off`, async () => {
      // An upload of a UTF-16 export interrupted mid-character.
      const read = await timedRead(textSource(Buffer.concat([utf16(`${TEMPLATE}\n${ROW}\n`), tail])));
      assert.match(
        fatalOf(read, 'TRUNCATED_FILE'),
        /^Row 2: The file ends in the middle of a character on row 2: it was cut off\./,
      );
    });
  }

  it('reads a file whose first non-ASCII byte is not UTF-8 as Windows-1252, and one that turns invalid later as mixed', async () => {
    // Excel's "CSV (Comma delimited)" on Windows, and rows pasted into a UTF-8 file from such a file.
    const ansi = await timedRead(
      textSource(
        Buffer.from(`${TEMPLATE}\nJos\xe9,Mu\xf1oz,j@district.org,Teacher,Oak Grove Elementary\n`, 'latin1'),
      ),
    );
    assert.deepEqual(
      ansi.findings.map((f) => f.code),
      ['WINDOWS_1252_DETECTED'],
    );
    assert.deepEqual([ansi.records[0].firstName, ansi.records[0].lastName], ['José', 'Muñoz']);

    const mixed = await timedRead(
      textSource(
        Buffer.concat([
          Buffer.from(`${TEMPLATE}\nRenée,Lee,r@district.org,Teacher,Oak Grove Elementary\n`),
          Buffer.from(`Jos\xe9,M,j@district.org,Teacher,Oak Grove Elementary\n`, 'latin1'),
        ]),
      ),
    );
    assert.match(fatalOf(mixed, 'MIXED_ENCODING'), /^Row 3: At row 3 the file stops being valid UTF-8/);
  });
});
