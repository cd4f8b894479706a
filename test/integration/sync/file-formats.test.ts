import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MatchingKey } from '../../../lib/contracts/sync-config';
import { type RunError, type SyncHarness, useSyncDistricts } from './sync-harness';

/** The schools the files under test/fixtures/csv name. */
const CSV_SCHOOLS = ['Minty Middle School', 'Oak Grove Elementary', 'Lincoln High School'];

const names = (users: Array<{ first_name: string; last_name: string }>): string[] =>
  users.map((u) => `${u.first_name} ${u.last_name}`).sort();
const codesOf = (errors: RunError[]): string[] => errors.map((e) => e.code);

/**
 * Files as districts really send them, through the real engine into Postgres: what ends up in the
 * users table and in the run's error report (test/fixtures/csv holds the files).
 */
describe('sync engine: files as districts send them', () => {
  const suite = useSyncDistricts();
  const { db } = suite;
  const district = (matchingKey: MatchingKey = 'email'): Promise<SyncHarness> =>
    suite.district({ matchingKey, schools: CSV_SCHOOLS });

  it('the default template: IDs keep leading zeros, every role, district-wide roles need no school', async () => {
    const h = await district('internal_id');
    const r = await h.sync({ fixture: 'csv/default-template.csv' });
    assert.equal(r.apply?.created, 12);
    assert.equal(r.run.rows_total, 12);
    const maria = await h.user('internal_id', '000123');
    assert.equal(maria?.email, 'maria.gonzalez@springfield.k12.us');
    assert.equal(maria?.coach_email, 'pat.coach@springfield.k12.us');
    const { rows } = await db.pool.query<{ accounting_id: string; clever_id: string }>(
      'SELECT accounting_id, clever_id FROM users WHERE id = $1',
      [maria!.id],
    );
    assert.deepEqual(rows[0], { accounting_id: '0045', clever_id: '5f1a2b3c9d' });
    assert.equal((await h.user('internal_id', '0004417'))?.last_name, 'Smith, Jr.');

    const roles = Object.fromEntries((await h.users()).map((u) => [u.first_name, [u.role, u.school]]));
    assert.deepEqual(roles, {
      Maria: ['Teacher', 'Minty Middle School'],
      Pat: ['Coach', 'Minty Middle School'],
      Dana: ['System Admin', null],
      Sam: ['Sub Admin', null], // the file names Lincoln High School; a district-wide role has none
      Renée: ['School Admin', 'Oak Grove Elementary'],
      Jordan: ['Student', 'Lincoln High School'],
      Avery: ['Student', 'Oak Grove Elementary'],
      Chris: ['Parent/Guardian', 'Oak Grove Elementary'],
      Kim: ['Parent/Guardian', 'Oak Grove Elementary'],
      Lee: ['Aide', 'Lincoln High School'],
      Taylor: ['Parent/Guardian', 'Minty Middle School'],
      Robin: ['Staff', 'Minty Middle School'],
    });
    // A quoted value spanning two lines is one value, kept whole in the custom field.
    const taylor = await h.user('internal_id', '000402');
    assert.equal(taylor?.custom_fields.Notes, 'Lives with grandparents;\r\npick-up: Mon, Wed');
  });

  it('headers match whatever their case, quotes, spaces, dashes or underscores', async () => {
    const h = await district('internal_id');
    const r = await h.sync({ fixture: 'csv/header-variants.csv' });
    assert.equal(r.apply?.created, 1);
    const ann = await h.user('internal_id', '000777');
    assert.deepEqual(
      [ann?.email, ann?.phone, ann?.school],
      ['ann.lee@springfield.k12.us', '555-010-7000', 'Minty Middle School'],
    );
    assert.deepEqual(ann?.custom_fields, { 'FirstName Pronounced': 'AN' });
    assert.deepEqual(await h.errors(r.runId), []);
  });

  it('a misspelled header is reported with its suggestion, and is fatal when the column is required', async () => {
    const byId = await district('internal_id');
    const kept = await byId.sync({ fixture: 'csv/misspelled-header.csv' });
    assert.equal(kept.apply?.created, 1);
    const [warning] = await byId.errors(kept.runId);
    assert.equal(warning.code, 'UNKNOWN_COLUMN_SUGGESTION');
    assert.equal(warning.severity, 'warning');
    assert.match(warning.message, /Column 'Emial' is not a known column; did you mean 'Email'\?/);
    assert.equal(kept.run.warning_count, 1);

    const byEmail = await district('email');
    const refused = await byEmail.sync({ fixture: 'csv/misspelled-header.csv' });
    assert.equal(refused.stage.fatal?.type, 'MissingColumns');
    assert.match(refused.stage.fatal!.message, /did you mean 'Email'\?/);
    assert.equal(refused.run.status, 'failed');
    assert.deepEqual(await byEmail.users(), []);
  });

  const readable: Array<[string, string[], string[]]> = [
    ['csv/utf16le-bom.csv', ['Zoë Åberg', 'Łukasz Żak'], []],
    ['csv/utf16be-bom.csv', ['Zoë Åberg', 'Łukasz Żak'], []],
    ['csv/windows-1252.csv', ['José Muñoz', 'Siobhán O’Brien'], ['WINDOWS_1252_DETECTED']],
    ['csv/cr-line-endings.csv', ['Ann Lee', 'Bob Smith'], []],
    ['csv/roster.txt', ['Ann Lee'], []],
    ['csv/metadata-line.csv', ['Ann Lee', 'Bob Smith'], ['METADATA_LINE_SKIPPED']],
  ];
  for (const [fixture, people, warnings] of readable) {
    it(`reads ${fixture.slice(4)}: ${people.join(', ')}${warnings.length ? `, warned ${warnings.join(', ')}` : ''}`, async () => {
      const h = await district();
      const r = await h.sync({ fixture });
      assert.equal(r.run.status, 'succeeded');
      assert.deepEqual(names(await h.users()), [...people].sort());
      const errors = await h.errors(r.runId);
      assert.deepEqual(codesOf(errors), warnings);
      assert.ok(errors.every((e) => e.severity === 'warning'));
      assert.equal(r.run.warning_count, warnings.length);
    });
  }

  it('blank rows are skipped and counted, blank columns ignored', async () => {
    const h = await district();
    const r = await h.sync({ fixture: 'csv/blank-rows-columns.csv' });
    assert.deepEqual(names(await h.users()), ['Ann Lee', 'Bob Smith', 'Cy Do', 'Di Ng']);
    assert.deepEqual([r.run.rows_total, r.run.rows_blank, r.run.rows_valid], [7, 3, 4]);
    assert.deepEqual(codesOf(await h.errors(r.runId)).sort(), ['BLANK_ROWS_SKIPPED', 'UNNAMED_COLUMN_VALUE']);
    assert.deepEqual((await h.user('email', 'ann.lee@springfield.k12.us'))?.custom_fields, {});
  });

  it('a row spilling past the header is skipped; a short row is filled with empty values', async () => {
    const h = await district();
    const r = await h.sync({ fixture: 'csv/column-shape.csv' });
    assert.deepEqual(names(await h.users()), ['Cy Do', 'Di Ng']);
    // Row 2 (Bob Smith, Jr without quotes) shifted every value one column right.
    const errors = await h.errors(r.runId);
    const spilled = errors.find((e) => e.code === 'CELLS_BEYOND_HEADER');
    assert.deepEqual([spilled?.row_number, spilled?.severity, spilled?.value], [2, 'error', '555-010-2000']);
    assert.deepEqual(
      errors.filter((e) => e.row_number !== 2).map((e) => [e.row_number, e.code, e.severity]),
      [[3, 'TOO_FEW_CELLS', 'warning']],
    );
    assert.equal(r.run.rows_with_errors, 1);
  });

  it('every row error lands in the report with its row, column and value; warned rows are kept', async () => {
    const h = await district('email');
    // Cy is already a user; this file's row for Cy has an unknown role.
    await h.sync({
      name: 'users.csv',
      text: 'First Name,Last Name,Email,Role,School\r\nCy,Do,cy.do@springfield.k12.us,Teacher,Minty Middle School\r\n',
    });
    const cy = await h.user('email', 'cy.do@springfield.k12.us');
    const r = await h.sync({ fixture: 'csv/row-errors.csv' });
    const errors = await h.errors(r.runId);
    const at = (row: number, code: string): RunError | undefined =>
      errors.find((e) => e.row_number === row && e.code === code);
    const expected: Array<[number, string, string | null, string | null]> = [
      [2, 'MISSING_KEY', 'Email', ''],
      [3, 'INVALID_EMAIL', 'Email', 'bo.ray@@springfield'],
      [4, 'UNKNOWN_ROLE', 'Role', 'Principal'],
      [5, 'UNKNOWN_ROLE', 'Role', 'Teachr'],
      [6, 'UNKNOWN_SCHOOL', 'School', 'Minty Middle'],
      [8, 'MISSING_SCHOOL', 'School', ''],
      [9, 'SCIENTIFIC_NOTATION_ID', 'Internal ID', '1.23457E+11'],
      [10, 'VALUE_TOO_LONG', 'First Name', 'Alexandria'.repeat(30).slice(0, 255)],
      [11, 'INVALID_COACH_EMAIL', 'Coach Email', 'coach at springfield'],
      [12, 'INVALID_PHONE', 'Phone', 'call the office'],
      [13, 'MISSING_REQUIRED_VALUE', 'First Name', ''],
    ];
    for (const [row, code, column, value] of expected) {
      const e = at(row, code);
      assert.ok(e, `row ${row} ${code}: ${JSON.stringify(errors.filter((x) => x.row_number === row))}`);
      assert.equal(e.column_name, column, `${code} column`);
      assert.equal(e.value, value, `${code} value`);
      assert.ok(e.message.startsWith(`Row ${row}: `), e.message);
    }
    assert.match(at(6, 'UNKNOWN_SCHOOL')!.message, /did you mean 'Minty Middle School'\?/);
    assert.match(at(5, 'UNKNOWN_ROLE')!.message, /did you mean 'Teacher'\?/);
    assert.deepEqual(
      { total: r.run.rows_total, valid: r.run.rows_valid, errors: r.run.rows_with_errors },
      { total: 14, valid: 3, errors: 11 },
    );
    // Rows with only warnings are applied without the dropped values.
    const jo = await h.user('email', 'jo.kim@springfield.k12.us');
    assert.deepEqual([jo?.status, jo?.coach_email], ['active', null]);
    // Cy's row has an error: Cy is left exactly as before, not archived.
    assert.equal(r.plan?.archive, 0);
    const cyAfter = await h.user('email', 'cy.do@springfield.k12.us');
    assert.equal(cyAfter?.status, 'active');
    assert.equal(cyAfter?.role, 'Teacher');
    assert.equal(cyAfter?.updated_at.getTime(), cy?.updated_at.getTime());
  });

  const fatal: Array<[string, string, string, RegExp]> = [
    ['csv/roster.xlsx', 'UNSUPPORTED_FILE', 'UnsupportedFile', /Excel workbook.*Save it as 'CSV UTF-8/],
    ['csv/roster.zip', 'UNSUPPORTED_FILE', 'UnsupportedFile', /zip archive, not a CSV file\. Unzip it/],
    ['csv/picture.csv', 'UNSUPPORTED_FILE', 'UnsupportedFile', /binary data, not text.*'CSV UTF-8/],
    ['csv/empty.csv', 'EMPTY_FILE', 'EmptyFile', /'empty\.csv' is empty \(0 bytes\)/],
    ['csv/blank-lines.csv', 'EMPTY_FILE', 'EmptyFile', /only blank lines/],
    ['csv/header-only.csv', 'HEADER_ONLY', 'EmptyFile', /nobody was archived/],
    ['csv/missing-role-column.csv', 'MISSING_REQUIRED_COLUMN', 'MissingColumns', /'Role'/],
    ['csv/duplicate-column.csv', 'DUPLICATE_COLUMN', 'MissingColumns', /both the Email column/],
    ['csv/unclosed-quote.csv', 'MALFORMED_CSV', 'UnsupportedFile', /^Row 3: A double quote/],
    ['csv/mixed-encoding.csv', 'MIXED_ENCODING', 'UnsupportedFile', /'CSV UTF-8/],
    [
      'csv/truncated.csv',
      'TRUNCATED_FILE',
      'UnsupportedFile',
      /^Row 4: The file ends in the middle of row 4/,
    ],
  ];
  for (const [fixture, code, type, message] of fatal) {
    it(`${fixture.slice(4)} stops the run (${code}); nobody is created or archived`, async () => {
      const h = await district();
      await h.sync({
        name: 'users.csv',
        text: 'First Name,Last Name,Email,Role,School\nEve,Ray,eve.ray@springfield.k12.us,Teacher,Minty Middle School\n',
      });
      const r = await h.sync({ fixture });
      assert.equal(r.stage.fatal?.type, type);
      assert.match(r.stage.fatal!.message, message);
      assert.deepEqual([r.run.status, r.run.failure_type, r.run.applied_at], ['failed', type, null]);
      const fatals = (await h.errors(r.runId)).filter((e) => e.severity === 'fatal');
      assert.deepEqual(codesOf(fatals), [code]);
      const users = await h.users();
      assert.deepEqual(
        users.map((u) => [u.email, u.status]),
        [['eve.ray@springfield.k12.us', 'active']],
      );
    });
  }
});
