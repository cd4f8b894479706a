import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readRoster } from '../../../lib/csv/read-roster';
import { SCHOOLS, fixturePath, readFixture, readSource } from './read-fixture';

describe('readRoster: streaming', () => {
  // Tiny chunks split BOMs, UTF-8 and UTF-16 characters, CRLF pairs and quoted values across reads.
  const files = fs.readdirSync(fixturePath('.')).sort();
  for (const file of files) {
    it(`reads ${file} the same in 1-, 7- and 64 KiB-byte chunks`, async () => {
      const whole = await readFixture(file, { matchingKey: 'email' });
      for (const highWaterMark of [1, 7]) {
        const chunked = await readFixture(file, { matchingKey: 'email' }, highWaterMark);
        assert.deepEqual(chunked.records, whole.records, `records, highWaterMark ${highWaterMark}`);
        assert.deepEqual(chunked.findings, whole.findings, `findings, highWaterMark ${highWaterMark}`);
        assert.deepEqual(chunked.summary, whole.summary, `summary, highWaterMark ${highWaterMark}`);
      }
    });
  }

  it('reads a UTF-8 file whose first accented letter lands on a chunk boundary as UTF-8', async () => {
    const text = 'First Name,Last Name,Email,Role,School\nRenée,Dubois,r@x.org,Teacher,Oak\n';
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    const { records, findings, summary } = await readSource(
      Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]),
      {
        fileName: 'split.csv',
        schools: ['Oak'],
      },
    );
    assert.deepEqual(findings, []);
    assert.equal(summary.encoding, 'utf-8');
    assert.equal(records[0].firstName, 'Renée');
  });

  it('reads a UTF-16BE file whose emoji is split across two chunks between its surrogate halves', async () => {
    // Exporters on Windows and Mac write UTF-16 with a BOM; a name may hold a character outside
    // the basic plane (an emoji, a rare CJK ideograph), written as two 16-bit halves.
    // Past the first 4 KiB, which are read whole to tell the encoding.
    const filler = Array.from({ length: 100 }, (_, i) => `Ann${i},Lee,a${i}@x.org,Teacher,Oak\n`).join('');
    const text = `\uFEFFFirst Name,Last Name,Email,Role,School\n${filler}Mei 😀,Lin,m@x.org,Teacher,Oak\n`;
    const le = Buffer.from(text, 'utf16le');
    const bytes = Buffer.alloc(le.length);
    for (let i = 0; i < le.length; i += 2) [bytes[i], bytes[i + 1]] = [le[i + 1], le[i]];
    const cut = bytes.indexOf(Buffer.from([0xd8, 0x3d])) + 2; // after the first half of the pair
    const { records, findings } = await readSource(
      Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]),
      {
        fileName: 'split-utf16.csv',
        schools: ['Oak'],
      },
    );
    assert.deepEqual(findings, []);
    assert.equal(records[100].firstName, 'Mei 😀');
  });

  /** Rows 2..(n+1) of plain UTF-8, each about 60 bytes: a few hundred reach well past the 4 KiB sniff. */
  const rowsOf = (n: number): string =>
    Array.from(
      { length: n },
      (_, i) => `Ann${i},Lee,ann${i}@springfield.k12.us,Teacher,Oak,note ${i}\n`,
    ).join('');
  const chunks = (bytes: Buffer, size: number): Buffer[] =>
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    );

  it('names the row where a UTF-8 file turns into another encoding, deep in the file', async () => {
    const bytes = Buffer.concat([
      Buffer.from('First Name,Last Name,Email,Role,School,Notes\nRenée,Dubois,r@x.org,Teacher,Oak,\n'),
      Buffer.from(rowsOf(300)), // rows 3 to 302
      Buffer.from('Jos\xe9,Mu\xf1oz,j@x.org,Teacher,Oak,\n', 'latin1'), // row 303, Windows-1252
    ]);
    for (const size of [7, 1000, 64 * 1024]) {
      const { summary } = await readSource(Readable.from(chunks(bytes, size)), {
        fileName: 'mixed.csv',
        schools: ['Oak'],
      });
      assert.equal(summary.fatal?.code, 'MIXED_ENCODING', `chunks of ${size}`);
      assert.equal(summary.fatal?.rowNumber, 303, `chunks of ${size}`);
      assert.match(summary.fatal!.message, /^Row 303: At row 303 the file stops being valid UTF-8/);
    }
  });

  it('drops invisible characters anywhere in the file: NUL, zero-width space, word joiner', async () => {
    const bytes = Buffer.from(
      `First Name,Last Name,Email,Internal ID,Role,School,Notes\n${rowsOf(100).replace(/^(Ann(\d+),[^,]*,[^,]*),/gm, '$1,E$2,')}` +
        `Bo\u0000b,Ray,bob@x.org\u200B,007\u200B,Teacher,Oak,a\u0000b\u2060c\n` +
        `Zoe,Ray,zoe@x.org,008,Teacher,Oak,\u{1F469}\u200D\u{1F4BB}\n`,
    );
    // Chunks of 512 and 1,000 bytes: an invisible character may straddle two reads.
    for (const size of [512, 1000]) {
      const { records, findings, summary } = await readSource(Readable.from(chunks(bytes, size)), {
        fileName: 'invisible.csv',
        matchingKey: 'internal_id',
        schools: ['Oak'],
      });
      assert.equal(summary.fatal, undefined);
      assert.deepEqual(findings, []);
      const [bob, zoe] = records.slice(-2);
      assert.deepEqual(
        [bob.firstName, bob.email, bob.internalId, bob.custom.Notes],
        ['Bob', 'bob@x.org', '007', 'abc'],
      );
      assert.equal(
        zoe.custom.Notes,
        '\u{1F469}\u200D\u{1F4BB}',
        'a zero-width joiner inside an emoji is kept',
      );
    }
  });

  it('yields a batch per chunk and reads the source only as fast as batches are consumed', async () => {
    const rows = 200_000;
    let produced = 0;
    let pulled = 0;
    // A generated district file: the reader must never hold it whole.
    function* lines(): Generator<Buffer> {
      yield Buffer.from('First Name,Last Name,Email,Internal ID,School,Role\r\n');
      let chunk = '';
      for (let i = 0; i < rows; i++) {
        chunk += `First${i},Last${i},user${i}@springfield.k12.us,${String(i).padStart(7, '0')},${SCHOOLS[i % 3]},Student\r\n`;
        if (chunk.length >= 16 * 1024) {
          produced += chunk.length;
          yield Buffer.from(chunk);
          chunk = '';
        }
      }
      produced += chunk.length;
      yield Buffer.from(chunk);
    }
    const source = Readable.from(lines(), { objectMode: false, highWaterMark: 16 * 1024 });
    source.on('data', (b: Buffer) => (pulled += b.length));
    const gen = readRoster(source, { fileName: 'big.csv', matchingKey: 'internal_id', schools: SCHOOLS });
    const first = await gen.next();
    assert.equal(first.done, false);
    assert.ok(!first.done && first.value.records.length > 0 && first.value.records.length < 1000);
    assert.ok(pulled < 1024 * 1024, `after the first batch only a little was read (${pulled} bytes)`);

    let batches = 1;
    let records = first.done ? 0 : first.value.records.length;
    let next = await gen.next();
    while (!next.done) {
      batches++;
      records += next.value.records.length;
      next = await gen.next();
    }
    assert.equal(records, rows);
    assert.equal(next.value.rowsValid, rows);
    assert.ok(batches > 100, `${batches} batches`);
    assert.equal(pulled, produced + 'First Name,Last Name,Email,Internal ID,School,Role\r\n'.length);
  });

  it('stops reading the source when the caller stops early', async () => {
    const stream = fs.createReadStream(fixturePath('default-template.csv'), { highWaterMark: 64 });
    const gen = readRoster(stream, {
      fileName: 'default-template.csv',
      matchingKey: 'internal_id',
      schools: SCHOOLS,
    });
    await gen.next();
    await gen.return({
      rowsTotal: 0,
      rowsBlank: 0,
      rowsValid: 0,
      rowsWithErrors: 0,
      warningCount: 0,
      encoding: '',
      headers: [],
    });
    assert.equal(stream.destroyed, true);
  });
});
