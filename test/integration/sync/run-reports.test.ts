import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { RunReports } from '../../../lib/sync/run-reports';
import { FIXTURES } from '../../support/paths';
import { type SyncHarness, streamedText, useSyncDistricts } from './sync-harness';

describe('run history reports', () => {
  const { db, district } = useSyncDistricts();
  let h: SyncHarness;
  let reports: RunReports;
  let dupRun: string;
  let v2Run: string;

  before(async () => {
    h = await district({ matchingKey: 'internal_id' });
    reports = new RunReports(db.pool, h.artifacts);
    dupRun = (await h.sync({ fixture: 'duplicates.csv' })).runId;
    await h.sync({ fixture: 'roster-v1.csv' });
    v2Run = (await h.sync({ fixture: 'roster-v2.csv' })).runId;
  });

  it('summarises errors by code with the dictionary title and fix', async () => {
    const summary = await reports.errorSummary(dupRun);
    const byCode = Object.fromEntries(summary.map((s) => [s.code, s]));
    assert.equal(byCode.DUPLICATE_KEY.count, 2);
    assert.equal(byCode.DUPLICATE_EMAIL.count, 2);
    assert.equal(byCode.UNKNOWN_SCHOOL.count, 1);
    assert.equal(byCode.DUPLICATE_KEY.severity, 'error');
    assert.match(byCode.DUPLICATE_KEY.fix, /Keep one row per person/);
    assert.ok(byCode.DUPLICATE_KEY.title.length > 10);
  });

  it('errors CSV: one line per finding, formulas neutralised', async () => {
    const csv = await streamedText((out) => reports.writeErrorsCsv(dupRun, out));
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'row,column,value,code,message');
    assert.equal(lines.length, 1 + 5);
    const formula = lines.find((l) => l.includes('UNKNOWN_SCHOOL'));
    assert.ok(formula, csv);
    // The School value =HYPERLINK(...) is written as '=HYPERLINK(...): a spreadsheet shows it as text.
    assert.match(formula, /^6,School,"'=HYPERLINK\(/);
    assert.ok(!/,=|,"=/.test(csv), 'no cell may start with =');
  });

  it('errors and plan CSV: a cell starting with = + - or @ is written as text', async () => {
    const formulas = await h.sync({
      name: 'users.csv',
      text: [
        'First Name,Last Name,Email,Internal ID,School,Role',
        '=1+1,Plus,plus@district.org,F1,+SUM(A1),Teacher',
        '-2,Minus,minus@district.org,F2,Minty Middle School,@cmd',
        '@me,At,at@district.org,F3,Minty Middle School,Teacher',
        '',
      ].join('\r\n'),
    });
    const errors = await streamedText((out) => reports.writeErrorsCsv(formulas.runId, out));
    assert.match(errors, /^2,School,'\+SUM\(A1\),UNKNOWN_SCHOOL,/m);
    assert.match(errors, /^3,Role,'@cmd,UNKNOWN_ROLE,/m);
    const plan = await streamedText((out) => reports.writePlanCsv(formulas.runId, out));
    assert.match(plan, /^create,[0-9a-f-]{36},4,F3,at@district\.org,'@me,At,$/m);
    for (const csv of [errors, plan]) {
      assert.ok(!/(^|,)"?[=+@-]/m.test(csv), `no cell may start with = + - @:\n${csv}`);
    }
  });

  it('plan CSV: what the run did, with the changed fields, still there after the run finished', async () => {
    const csv = await streamedText((out) => reports.writePlanCsv(v2Run, out));
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'action,user_id,row,key,email,first_name,last_name,changed_fields');
    const update = lines.find((l) => l.includes('ada.lovelace@district.org'));
    assert.match(
      update ?? '',
      /^update,[0-9a-f-]{36},2,T1001,ada\.lovelace@district\.org,Ada,King,last_name$/,
    );
    assert.ok(
      lines.some((l) => /^create,.*,T1006,margaret\.hamilton@district\.org,Margaret,Hamilton,$/.test(l)),
    );
    assert.ok(
      lines.some((l) => /^archive,[0-9a-f-]{36},,T1002,alan\.turing@district\.org,Alan,Turing,$/.test(l)),
    );
    // Staging is gone once the run is final; the plan is not.
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'stage_rows_%'",
    );
    assert.equal(rows[0].n, 0);
  });

  it('serves the original file byte for byte', async () => {
    const original = await reports.openOriginal(v2Run);
    assert.ok(typeof original === 'object');
    assert.equal(original.name, 'roster-v2.csv');
    const expected = fs.readFileSync(path.join(FIXTURES, 'sync', 'roster-v2.csv'));
    assert.equal(original.size, expected.length);
    const chunks: Buffer[] = [];
    for await (const c of original.stream) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(expected));
    const { runId } = await h.activities.createRun({
      districtId: h.districtId,
      trigger: 'schedule',
      dryRun: false,
    });
    assert.equal(await reports.openOriginal(runId), 'not-fetched');
  });
});
