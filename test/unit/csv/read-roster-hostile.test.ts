import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { textSource, timedRead } from './hostile-read';

/**
 * Pathological files, each read within a time budget (and, for the huge ones, a memory budget),
 * checked for the finding a district admin would get. The budgets are generous for a busy shared
 * machine; the reader needs a few milliseconds for each.
 */
const TEMPLATE = 'First Name,Last Name,Email,Role,School';
const ROW = 'Ann,Lee,ann@district.org,Teacher,Oak Grove Elementary';

describe('readRoster: hostile headers', () => {
  it('refuses a header cell holding a long run of quotes within a second, naming the column', async () => {
    // A spreadsheet cell pasted full of apostrophes: the shape that made the quote trimming quadratic.
    const read = await timedRead(textSource(`${TEMPLATE},x${"'".repeat(60_000)}x\n${ROW},v\n`));
    assert.ok(read.ms < 1000, `${Math.round(read.ms)} ms`);
    assert.equal(read.summary.fatal?.code, 'HEADER_TOO_LARGE');
    assert.match(
      read.summary.fatal!.message,
      /^Row 1: The header of column F is 60002 characters long \(at most 255\): 'x''''.*Export only the template’s columns/,
    );
    assert.deepEqual(read.records, []);
  });
});
