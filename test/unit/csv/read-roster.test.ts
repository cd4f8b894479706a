import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEMPLATE_COLUMNS, assertRowCounts, atRow, codes, readFixture, readText } from './read-fixture';

describe('readRoster: the default template, as a district fills it in', () => {
  it('reads every row: IDs keep leading zeros, emails are lower-cased and trimmed, roles are canonical', async () => {
    const { records, findings, summary } = await readFixture('default-template.csv', {
      matchingKey: 'internal_id',
    });
    assert.deepEqual(findings, []);
    assert.equal(summary.fatal, undefined);
    assert.equal(summary.encoding, 'utf-8-bom');
    assert.deepEqual(summary.headers.slice(0, 11), TEMPLATE_COLUMNS);
    assertRowCounts(summary, { total: 12, valid: 12, errors: 0, blank: 0 });
    const maria = records[0];
    assert.deepEqual(maria, {
      rowNumber: 2,
      firstName: 'Maria',
      lastName: 'Gonzalez',
      email: 'maria.gonzalez@springfield.k12.us',
      internalId: '000123',
      accountingId: '0045',
      cleverId: '5f1a2b3c9d',
      platformId: null,
      role: 'Teacher',
      school: 'Minty Middle School',
      coachEmail: 'pat.coach@springfield.k12.us',
      phone: '(555) 010-2000',
      custom: { 'Grade Level': '', Notes: '' },
    });
    const byName = new Map(records.map((r) => [r.firstName, r]));
    assert.equal(byName.get('Jordan')?.internalId, '0004417');
    assert.equal(byName.get('Jordan')?.lastName, 'Smith, Jr.');
    assert.equal(byName.get('Jordan')?.custom['Grade Level'], '11');
    assert.equal(byName.get('Avery')?.email, null, 'email is optional when matching by Internal ID');
    assert.equal(byName.get('Renée')?.role, 'School Admin');
    assert.equal(byName.get('Chris')?.role, 'Parent/Guardian');
    assert.equal(byName.get('Kim')?.role, 'Parent/Guardian');
    assert.equal(byName.get('Taylor')?.role, 'Parent/Guardian');
    assert.equal(byName.get('Lee')?.phone, '555.010.4000 x12');
  });

  it('gives district-wide roles no school, even when the row names one', async () => {
    const { records } = await readFixture('default-template.csv', { matchingKey: 'internal_id' });
    const dana = records.find((r) => r.firstName === 'Dana')!;
    const sam = records.find((r) => r.firstName === 'Sam')!;
    assert.deepEqual([dana.role, dana.school], ['System Admin', null]);
    assert.deepEqual([sam.role, sam.school], ['Sub Admin', null]);
  });

  it('numbers rows by the line they start on, counting line breaks inside quoted values', async () => {
    const { records } = await readFixture('default-template.csv', { matchingKey: 'internal_id' });
    const taylor = records.find((r) => r.firstName === 'Taylor')!;
    assert.equal(taylor.rowNumber, 12);
    assert.equal(taylor.custom.Notes, 'Lives with grandparents;\r\npick-up: Mon, Wed');
    assert.equal(records.at(-1)!.firstName, 'Robin');
    assert.equal(records.at(-1)!.rowNumber, 14);
  });

  it('rejects every row when matching by Platform ID and the column is empty', async () => {
    const { records, findings, summary } = await readFixture('default-template.csv', {
      matchingKey: 'platform_id',
    });
    assert.equal(records.length, 0);
    assert.equal(summary.rowsWithErrors, 12);
    assert.ok(findings.every((f) => f.code === 'MISSING_KEY' && f.column === 'Platform ID'));
    assert.match(findings[0].message, /^Row 2: Platform ID is empty, and Platform ID is the matching key/);
  });
});

describe('readRoster: header matching', () => {
  it('ignores case, surrounding spaces and quotes, and spaces vs dashes vs underscores', async () => {
    const { records, findings } = await readFixture('header-variants.csv', { matchingKey: 'internal_id' });
    assert.deepEqual(findings, []);
    assert.deepEqual(records[0], {
      rowNumber: 2,
      firstName: 'Ann',
      lastName: 'Lee',
      email: 'ann.lee@springfield.k12.us',
      internalId: '000777',
      accountingId: null,
      cleverId: null,
      platformId: null,
      role: 'Teacher',
      school: 'Minty Middle School',
      coachEmail: null,
      phone: '555-010-7000',
      custom: { 'FirstName Pronounced': 'AN' },
    });
  });

  it('keeps a misspelled column as a custom field and suggests the known one', async () => {
    const { records, findings, summary } = await readFixture('misspelled-header.csv', {
      matchingKey: 'internal_id',
    });
    assert.equal(summary.fatal, undefined);
    assert.deepEqual(codes(findings), ['UNKNOWN_COLUMN_SUGGESTION']);
    assert.equal(findings[0].severity, 'warning');
    assert.match(
      findings[0].message,
      /Column 'Emial' is not a known column; did you mean 'Email'\? It was kept as a custom field\./,
    );
    assert.equal(records[0].email, null);
    assert.deepEqual(records[0].custom, { Emial: 'ann.lee@springfield.k12.us' });
    assert.equal(summary.warningCount, 1);
  });

  it('makes a misspelled required column fatal, with the suggestion in the message', async () => {
    const { records, summary } = await readFixture('misspelled-header.csv', { matchingKey: 'email' });
    assert.equal(records.length, 0);
    assert.equal(summary.fatal?.code, 'MISSING_REQUIRED_COLUMN');
    assert.equal(summary.fatal?.severity, 'fatal');
    assert.match(summary.fatal!.message, /missing required column 'Email' \(the matching key of this sync\)/);
    assert.match(summary.fatal!.message, /column 'Emial' looks like it; did you mean 'Email'\?/);
  });

  it('requires First Name, Last Name and Role', async () => {
    const { summary } = await readFixture('missing-role-column.csv');
    assert.equal(summary.fatal?.code, 'MISSING_REQUIRED_COLUMN');
    assert.match(summary.fatal!.message, /'Role'/);
    assert.match(summary.fatal!.message, /Columns found: 'First Name', 'Last Name', 'Email', 'School'/);
  });

  it('requires the Platform ID column when matching by platform id', async () => {
    const { summary } = await readFixture('no-platform-id.csv', { matchingKey: 'platform_id' });
    assert.equal(summary.fatal?.code, 'MISSING_REQUIRED_COLUMN');
    assert.match(summary.fatal!.message, /'Platform ID' \(the matching key of this sync\)/);
    const byInternalId = await readFixture('no-platform-id.csv', { matchingKey: 'internal_id' });
    assert.equal(byInternalId.summary.fatal, undefined);
    assert.equal(byInternalId.records.length, 1);
  });

  it('refuses two columns that are the same known column', async () => {
    const { summary } = await readFixture('duplicate-column.csv');
    assert.equal(summary.fatal?.code, 'DUPLICATE_COLUMN');
    assert.match(
      summary.fatal!.message,
      /Columns C \('Email'\) and F \('E-mail'\) are both the Email column/,
    );
  });
});

describe('readRoster: row errors and warnings', () => {
  it('skips each bad row with a specific, fixable message, and keeps rows with warnings', async () => {
    const { records, findings, summary } = await readFixture('row-errors.csv', { matchingKey: 'email' });
    const expect = (row: number, code: string, pattern: RegExp): void => {
      const found = atRow(findings, row).find((f) => f.code === code);
      assert.ok(found, `row ${row} should report ${code}; got ${JSON.stringify(atRow(findings, row))}`);
      assert.match(found.message, pattern);
      assert.ok(found.message.startsWith(`Row ${row}: `), found.message);
    };
    expect(2, 'MISSING_KEY', /Email is empty, and Email is the matching key of this sync/);
    expect(3, 'INVALID_EMAIL', /Email 'bo\.ray@@springfield' is not a valid email address/);
    expect(4, 'UNKNOWN_ROLE', /Role 'Principal' is not a known role\. Use one of: Teacher, Coach/);
    expect(5, 'UNKNOWN_ROLE', /Role 'Teachr' is not a known role; did you mean 'Teacher'\?/);
    expect(
      6,
      'UNKNOWN_SCHOOL',
      /School 'Minty Middle' does not exist in this district; did you mean 'Minty Middle School'\?/,
    );
    expect(
      7,
      'UNKNOWN_SCHOOL',
      /School 'minty {2}middle school' does not exist .*did you mean 'Minty Middle School'\?/,
    );
    expect(8, 'MISSING_SCHOOL', /School is empty, and a Teacher must belong to a school/);
    expect(
      9,
      'SCIENTIFIC_NOTATION_ID',
      /Internal ID '1\.23457E\+11' is in scientific notation.*format the ID column as Text/,
    );
    expect(10, 'VALUE_TOO_LONG', /First Name is 300 characters long \(at most 255\)/);
    expect(
      11,
      'INVALID_COACH_EMAIL',
      /Coach Email 'coach at springfield' is not a valid email address; it was ignored/,
    );
    expect(12, 'INVALID_PHONE', /Phone 'call the office' is not a phone number; it was ignored/);
    expect(13, 'MISSING_REQUIRED_VALUE', /First Name is empty/);
    // One row, every problem: an admin fixes them in one go.
    assert.deepEqual(codes(atRow(findings, 15)).sort(), ['INVALID_EMAIL', 'UNKNOWN_ROLE']);

    for (const f of findings) {
      assert.match(f.code, /^[A-Z]+(?:_[A-Z0-9]+)*$/);
      assert.equal(
        f.severity,
        f.code.startsWith('INVALID_COACH') || f.code === 'INVALID_PHONE' ? 'warning' : 'error',
      );
    }
    const six = atRow(findings, 6)[0];
    assert.deepEqual([six.column, six.value], ['School', 'Minty Middle']);
    assert.deepEqual(
      records.map((r) => [r.rowNumber, r.firstName, r.coachEmail, r.phone]),
      [
        [11, 'Jo', null, null],
        [12, 'Kit', null, null],
        [14, 'Mo', null, null],
      ],
    );
    assertRowCounts(summary, { total: 14, valid: 3, errors: 11, warnings: 2 });
  });

  it('hands staging the key of each skipped row, so that user is not archived for the error', async () => {
    const byEmail = await readFixture('row-errors.csv', { matchingKey: 'email' });
    const rows = byEmail.errorKeys.map((e) => e.rowNumber);
    assert.ok(!rows.includes(2), 'row 2 has no email to match on');
    assert.deepEqual(
      byEmail.errorKeys.find((e) => e.rowNumber === 4),
      { rowNumber: 4, key: 'cy.do@springfield.k12.us' },
    );
    assert.equal(byEmail.errorKeys.length, byEmail.summary.rowsWithErrors - 1);
    // By Internal ID, row 2 (no email) is fine: email is optional then.
    const byId = await readFixture('row-errors.csv', { matchingKey: 'internal_id' });
    assert.deepEqual(byId.errorKeys.slice(0, 3), [
      { rowNumber: 3, key: '000002' },
      { rowNumber: 4, key: '000003' },
      { rowNumber: 5, key: '000004' },
    ]);
  });

  it('names the closest existing school for every unknown school', async () => {
    const schools = ['Lincoln High School', 'Lincoln Elementary', 'Minty Middle School'];
    const { findings } = await readText(
      'First Name,Last Name,Email,Role,School\n' +
        'A,B,a@x.org,Teacher,Lincon High School\n' + // a typo
        'C,D,c@x.org,Teacher,Lincoln HS\n' + // an abbreviation: shares "Lincoln"
        'E,F,e@x.org,Teacher,Jefferson High School\n', // a school not created yet
      { schools },
    );
    const messages = findings.filter((f) => f.code === 'UNKNOWN_SCHOOL').map((f) => f.message);
    assert.match(
      messages[0],
      /^Row 2: School 'Lincon High School' does not exist in this district; did you mean 'Lincoln High School'\?/,
    );
    assert.match(
      messages[1],
      /^Row 3: School 'Lincoln HS' does not exist in this district; did you mean 'Lincoln High School'\?/,
    );
    assert.match(
      messages[2],
      /^Row 4: School 'Jefferson High School' does not exist in this district, and no school of the district has a similar name \(the nearest is '.+'\)\. Use the school’s name exactly .* or create the school first\./,
    );
  });

  it('accepts Parent and Guardian (any case) as Parent/Guardian and rejects look-alike school names', async () => {
    const header = 'First Name,Last Name,Email,Role,School\n';
    const { records, findings } = await readText(
      header +
        'A,B,a@x.org,PARENT,Oak Grove Elementary\n' +
        'C,D,c@x.org,guardian,Oak Grove Elementary\n' +
        'E,F,e@x.org,parent / guardian,Oak Grove Elementary\n' +
        'G,H,g@x.org,Teacher,Oak Grove Elementary \n' +
        'I,J,i@x.org,Teacher,Oak Grove Elem\n',
      { schools: ['Oak Grove Elementary'] },
    );
    assert.deepEqual(
      records.map((r) => r.role),
      ['Parent/Guardian', 'Parent/Guardian', 'Parent/Guardian', 'Teacher'],
    );
    assert.equal(records[3].school, 'Oak Grove Elementary', 'surrounding spaces are not part of the name');
    assert.deepEqual(codes(findings), ['UNKNOWN_SCHOOL']);
    assert.match(
      findings[0].message,
      /School 'Oak Grove Elem' does not exist in this district; did you mean 'Oak Grove Elementary'\?/,
    );
  });

  it('bounds custom values at 1,000 characters', async () => {
    const { findings, summary } = await readText(
      `First Name,Last Name,Email,Role,School,Notes\nA,B,a@x.org,Teacher,Oak,${'n'.repeat(1001)}\nC,D,c@x.org,Teacher,Oak,${'n'.repeat(1000)}\n`,
      { schools: ['Oak'] },
    );
    assert.deepEqual(codes(findings), ['VALUE_TOO_LONG']);
    assert.equal(findings[0].column, 'Notes');
    assert.equal(summary.rowsValid, 1);
  });
});

describe('readRoster: files as districts send them', () => {
  it('reads Windows-1252 (Excel "CSV (Comma delimited)") and says so', async () => {
    const { records, findings, summary } = await readFixture('windows-1252.csv');
    assert.equal(summary.encoding, 'windows-1252');
    assert.deepEqual(
      records.map((r) => `${r.firstName} ${r.lastName}`),
      ['José Muñoz', 'Siobhán O’Brien'],
    );
    assert.deepEqual(codes(findings), ['WINDOWS_1252_DETECTED']);
    assert.equal(findings[0].severity, 'warning');
  });

  for (const [file, encoding] of [
    ['utf16le-bom.csv', 'utf-16le'],
    ['utf16be-bom.csv', 'utf-16be'],
  ] as const) {
    it(`reads UTF-16 with a BOM (${encoding})`, async () => {
      const { records, findings, summary } = await readFixture(file);
      assert.deepEqual(findings, []);
      assert.equal(summary.encoding, encoding);
      assert.deepEqual(
        records.map((r) => `${r.firstName} ${r.lastName}`),
        ['Zoë Åberg', 'Łukasz Żak'],
      );
    });
  }

  it('reads UTF-16 LE without a BOM', async () => {
    const text = 'First Name,Last Name,Email,Role,School\r\nZoë,Åberg,zoe@x.org,Teacher,Oak\r\n';
    const { records, summary } = await readText(Buffer.from(text, 'utf16le'), { schools: ['Oak'] });
    assert.equal(summary.encoding, 'utf-16le');
    assert.equal(records[0].firstName, 'Zoë');
  });

  it('reads old-Mac CR line endings, with a line break inside a quoted value', async () => {
    const { records, findings } = await readFixture('cr-line-endings.csv');
    assert.deepEqual(findings, []);
    assert.deepEqual(
      records.map((r) => [r.rowNumber, r.firstName, r.custom.Notes]),
      [
        [2, 'Ann', 'two\rlines'],
        [4, 'Bob', ''],
      ],
    );
  });

  it('reads a file whose rows mix CRLF, LF and CR (rows appended in another editor)', async () => {
    const text =
      'First Name,Last Name,Email,Role,School\r\n' +
      'Ann,Lee,ann@x.org,Teacher,Oak\r\n' +
      'Bob,Ray,bob@x.org,Teacher,Oak\n' +
      'Cy,Do,cy@x.org,Teacher,Oak\r' +
      'Di,Fu,di@x.org,Teacher,Oak\n';
    const { records, findings } = await readText(Buffer.from(text), { schools: ['Oak'] });
    assert.deepEqual(findings, []);
    assert.deepEqual(
      records.map((r) => [r.rowNumber, r.firstName]),
      [
        [2, 'Ann'],
        [3, 'Bob'],
        [4, 'Cy'],
        [5, 'Di'],
      ],
    );
  });

  it('reads LF line endings and a .txt file as CSV', async () => {
    const { records, summary } = await readFixture('roster.txt');
    assert.equal(summary.fatal, undefined);
    assert.deepEqual(
      records.map((r) => r.email),
      ['ann.lee@springfield.k12.us'],
    );
  });

  it('skips a metadata line above the header with a warning', async () => {
    const { records, findings, summary } = await readFixture('metadata-line.csv');
    assert.deepEqual(codes(findings), ['METADATA_LINE_SKIPPED']);
    assert.equal(findings[0].rowNumber, 1);
    assert.match(
      findings[0].message,
      /Row 1: Line 'Exported from SIS on 2026-11-01' above the header row was skipped/,
    );
    assert.deepEqual(
      records.map((r) => r.rowNumber),
      [3, 4],
    );
    assert.equal(summary.rowsTotal, 2);
  });

  it('skips and counts blank rows, and ignores blank columns', async () => {
    const { records, findings, summary } = await readFixture('blank-rows-columns.csv');
    assert.deepEqual(
      records.map((r) => [r.rowNumber, r.firstName, r.lastName]),
      [
        [2, 'Ann', 'Lee'],
        [4, 'Bob', 'Smith'],
        [6, 'Cy', 'Do'],
        [7, 'Di', 'Ng'],
      ],
    );
    assert.deepEqual(records[0].custom, {}, 'a column with an empty header is not a custom field');
    assert.deepEqual(summary.headers, ['First Name', '', 'Last Name', 'Email', 'Role', 'School']);
    assertRowCounts(summary, { total: 7, blank: 3, valid: 4 });
    assert.deepEqual(codes(findings), ['UNNAMED_COLUMN_VALUE', 'BLANK_ROWS_SKIPPED']);
    assert.match(
      findings[0].message,
      /Row 7: Value 'see note' is in column 2, which has no header; it was ignored/,
    );
    assert.match(findings[1].message, /Skipped 3 blank rows \(row 3, 5, 8\)/);
  });

  it('skips a row whose values spill past the header, and fills in a short row', async () => {
    const { records, findings } = await readFixture('column-shape.csv');
    const spilled = atRow(findings, 2).find((f) => f.code === 'CELLS_BEYOND_HEADER');
    assert.equal(spilled?.severity, 'error');
    assert.match(
      spilled!.message,
      /The row has 7 values but the header only 6 columns; value '555-010-2000' is in column 7/,
    );
    assert.match(spilled!.message, /"Smith, Jr\."/);
    assert.deepEqual(codes(atRow(findings, 3)), ['TOO_FEW_CELLS']);
    assert.equal(atRow(findings, 3)[0].severity, 'warning');
    assert.deepEqual(atRow(findings, 4), [], 'empty trailing cells are harmless');
    assert.deepEqual(
      records.map((r) => [r.rowNumber, r.phone]),
      [
        [3, null],
        [4, '555-010-1000'],
      ],
    );
  });

  it('keeps the report small however much a row holds: one warning per row, values cut to 1,000 characters', async () => {
    // A header with four empty columns at the end, and a row that fills all of them plus a huge
    // value spilling past the header (the shape of a file whose quotes went wrong).
    const huge = 'x'.repeat(50_000);
    const { findings } = await readText(
      'First Name,Last Name,Email,Role,School,,,,,Grade\n' +
        `Ann,Lee,ann@d.org,Teacher,Oak Grove Elementary,a,b,c,d,5,${huge}\n`,
    );
    assert.deepEqual(codes(findings).sort(), ['CELLS_BEYOND_HEADER', 'UNNAMED_COLUMN_VALUE']);
    const unnamed = findings.find((f) => f.code === 'UNNAMED_COLUMN_VALUE')!;
    assert.match(
      unnamed.message,
      /Row 2: Value 'a' is in column 6, which has no header \(and 3 more values in columns without a header\); it was ignored/,
    );
    const spilled = findings.find((f) => f.code === 'CELLS_BEYOND_HEADER')!;
    assert.equal(spilled.value, 'x'.repeat(1000));
    assert.ok(spilled.message.length < 500, 'the message quotes only the start of the value');
  });
});

describe('readRoster: a file cut off mid-upload', () => {
  const header = 'First Name,Last Name,Email,Internal ID,School,Role,Coach Email,Accounting ID,Phone\n';
  const whole = (name: string, id: string): string =>
    `${name},Rahman,${name.toLowerCase()}@x.org,${id},Oak Grove Elementary,Teacher,coach@x.org,HR-45,555-0100\n`;

  it('refuses a file whose last row stops short with no line break after it', async () => {
    const cut = header + whole('Ann', 'E201') + whole('Bo', 'E202') + 'Aisha,Rahman,aisha@x.org,E203,Oak';
    const { summary } = await readText(cut, { matchingKey: 'internal_id' });
    assert.equal(summary.fatal?.code, 'TRUNCATED_FILE');
    assert.equal(summary.fatal?.rowNumber, 4);
    assert.match(
      summary.fatal!.message,
      /^Row 4: The file ends in the middle of row 4: the row has 5 of the header's 9 columns and no line break after it, while every other row is whole\. Upload the complete file again/,
    );
  });

  it('refuses a UTF-8 file that ends in the middle of a character', async () => {
    const bytes = Buffer.from(header + whole('Renée', 'E201') + 'Zoë,Ng');
    const { summary } = await readText(bytes.subarray(0, bytes.length - 4), { matchingKey: 'internal_id' });
    assert.equal(summary.fatal?.code, 'TRUNCATED_FILE');
    assert.match(summary.fatal!.message, /ends in the middle of a character on row 3: it was cut off/);
  });

  it('reads a whole file without a final line break, and an export that drops trailing empty cells', async () => {
    const noFinalBreak = await readText((header + whole('Ann', 'E201') + whole('Bo', 'E202')).trimEnd(), {
      matchingKey: 'internal_id',
    });
    assert.equal(noFinalBreak.summary.fatal, undefined);
    assert.equal(noFinalBreak.records.length, 2);

    const shortRows =
      header +
      'Ann,Lee,ann@x.org,E1,Oak Grove Elementary,Teacher\n' +
      whole('Bo', 'E2') +
      'Cy,Do,cy@x.org,E3,Oak Grove Elementary,Teacher';
    const trimmed = await readText(shortRows, { matchingKey: 'internal_id' });
    assert.equal(trimmed.summary.fatal, undefined, 'short rows throughout are the export’s style');
    assert.equal(trimmed.records.length, 3);
  });
});

describe('readRoster: a header row larger than a roster', () => {
  const header = (custom: number): string =>
    'First Name,Last Name,Email,Role,School' +
    Array.from({ length: custom }, (_, i) => `,Field ${i + 1}`).join('');

  it('keeps up to 200 custom columns', async () => {
    const { summary, records } = await readText(
      `${header(200)}\nAnn,Lee,ann@d.org,Teacher,Oak Grove Elementary${',v'.repeat(200)}\n`,
    );
    assert.equal(summary.fatal, undefined);
    assert.equal(Object.keys(records[0].custom).length, 200);
  });

  it('refuses more than 200 custom columns, or a header longer than 255 characters', async () => {
    const many = await readText(`${header(201)}\nAnn,Lee,ann@d.org,Teacher,Oak Grove Elementary\n`);
    assert.equal(many.summary.fatal?.code, 'HEADER_TOO_LARGE');
    assert.match(
      many.summary.fatal!.message,
      /Row 1: The header row has 201 columns besides the template's \(at most 200 custom columns are kept\), from 'Field 1' to 'Field 201'\. Export only/,
    );
    assert.deepEqual(many.records, [], 'nothing from the file is used');

    const long = await readText(
      `First Name,Last Name,Email,Role,School,${'Notes '.repeat(60)}\nAnn,Lee,ann@d.org,Teacher,Oak Grove Elementary,n\n`,
    );
    assert.equal(long.summary.fatal?.code, 'HEADER_TOO_LARGE');
    assert.match(
      long.summary.fatal!.message,
      /The header of column F is 359 characters long \(at most 255\)/,
    );
  });
});

describe('readRoster: files that cannot be used', () => {
  const fatalCases: Array<[string, string, RegExp]> = [
    [
      'roster.xlsx',
      'UNSUPPORTED_FILE',
      /This looks like an Excel workbook|looks like an Excel workbook \(\.xlsx\)\. Save it as 'CSV UTF-8 \(Comma delimited\)' and upload again\./,
    ],
    ['roster.zip', 'UNSUPPORTED_FILE', /is a zip archive, not a CSV file\. Unzip it/],
    ['picture.csv', 'UNSUPPORTED_FILE', /contains binary data, not text/],
    ['empty.csv', 'EMPTY_FILE', /'empty\.csv' is empty \(0 bytes\)/],
    ['blank-lines.csv', 'EMPTY_FILE', /only blank lines/],
    [
      'header-only.csv',
      'HEADER_ONLY',
      /has a header row but no data rows, so nothing was changed and nobody was archived/,
    ],
    ['unclosed-quote.csv', 'MALFORMED_CSV', /^Row 3: A double quote opened on this row is never closed/],
  ];
  for (const [file, code, message] of fatalCases) {
    it(`${file}: ${code}`, async () => {
      const { records, summary } = await readFixture(file);
      assert.equal(summary.fatal?.code, code);
      assert.equal(summary.fatal?.severity, 'fatal');
      assert.match(summary.fatal!.message, message);
      if (code !== 'MALFORMED_CSV') assert.equal(records.length, 0);
    });
  }

  it('refuses a file that switches from UTF-8 to another encoding, whatever the chunk size', async () => {
    for (const highWaterMark of [16, 64 * 1024]) {
      const { summary } = await readFixture('mixed-encoding.csv', {}, highWaterMark);
      assert.equal(summary.fatal?.code, 'MIXED_ENCODING', `highWaterMark ${highWaterMark}`);
      assert.match(summary.fatal!.message, /Save the file as 'CSV UTF-8 \(Comma delimited\)'/);
    }
  });
});
