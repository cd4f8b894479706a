import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CODES, TEMPLATE_HEADERS, errorCode } from '../../../lib/csv/error-codes';
import { renderErrorCodesTable } from '../../../lib/csv/error-codes-doc';
import { REPO_ROOT } from '../../support/paths';
import { SCHOOLS, TEMPLATE_COLUMNS, readFixture } from './read-fixture';

describe('error dictionary', () => {
  it('has a stable, unique UPPER_SNAKE code, a severity, a title and a fix for every entry', () => {
    const seen = new Set<string>();
    for (const entry of ERROR_CODES) {
      assert.match(entry.code, /^[A-Z]+(?:_[A-Z0-9]+)*$/);
      assert.ok(!seen.has(entry.code), `duplicate ${entry.code}`);
      seen.add(entry.code);
      assert.ok(['fatal', 'error', 'warning'].includes(entry.severity));
      assert.ok(entry.title.length > 20 && entry.fix.length > 10, entry.code);
    }
    for (const required of [
      'MISSING_KEY',
      'INVALID_EMAIL',
      'UNKNOWN_ROLE',
      'UNKNOWN_SCHOOL',
      'MISSING_SCHOOL',
      'DUPLICATE_KEY',
      'DUPLICATE_EMAIL',
      'SCIENTIFIC_NOTATION_ID',
      'VALUE_TOO_LONG',
      'CELLS_BEYOND_HEADER',
      'MISSING_REQUIRED_COLUMN',
      'UNKNOWN_COLUMN_SUGGESTION',
      'INVALID_COACH_EMAIL',
      'WINDOWS_1252_DETECTED',
      'TOO_FEW_CELLS',
      'BLANK_ROWS_SKIPPED',
      'METADATA_LINE_SKIPPED',
      'UNSUPPORTED_FILE',
      'EMPTY_FILE',
      'HEADER_ONLY',
    ]) {
      assert.ok(seen.has(required), `missing ${required}`);
    }
    assert.equal(errorCode('SCIENTIFIC_NOTATION_ID').severity, 'error');
    assert.match(errorCode('SCIENTIFIC_NOTATION_ID').fix, /format the ID column as Text/);
    assert.throws(() => errorCode('NO_SUCH_CODE'), /Unknown error code NO_SUCH_CODE/);
  });

  it('is documented in docs/error-codes.md, row for row, with the same severity', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'error-codes.md'), 'utf8');
    const rows = new Map<string, string>();
    for (const match of doc.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\w+)\s*\|/gm))
      rows.set(match[1], match[2]);
    assert.deepEqual([...rows.keys()].sort(), ERROR_CODES.map((e) => e.code).sort());
    for (const entry of ERROR_CODES) assert.equal(rows.get(entry.code), entry.severity, entry.code);
    const generated =
      /<!-- generated:error-codes:start -->\n([\s\S]*?)\n<!-- generated:error-codes:end -->/.exec(doc);
    assert.equal(
      generated?.[1],
      renderErrorCodesTable(),
      'regenerate with: node dist/lib/csv/error-codes-doc.js',
    );
  });

  it('ships a blank template and a sample file that read cleanly', async () => {
    assert.deepEqual(TEMPLATE_HEADERS, TEMPLATE_COLUMNS);
    const sample = path.join(REPO_ROOT, 'docs', 'sample-users.csv');
    const header = fs.readFileSync(sample, 'utf8').split(/\r?\n/)[0];
    assert.equal(header, TEMPLATE_HEADERS.join(','));
    const rel = path.relative(path.join(REPO_ROOT, 'test', 'fixtures', 'csv'), sample);
    const { findings, summary } = await readFixture(rel, {
      matchingKey: 'internal_id',
      schools: [...SCHOOLS, 'Riverside Elementary School'],
    });
    assert.deepEqual(findings, []);
    assert.ok(summary.rowsValid >= 10);
  });
});
