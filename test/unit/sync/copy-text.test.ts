import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyLine, copyValue } from '../../../lib/sync/copy-text';

describe('COPY text', () => {
  it('passes ordinary values through untouched and writes null as \\N', () => {
    assert.equal(copyValue('Lovelace, Ada'), 'Lovelace, Ada');
    assert.equal(copyValue('000123'), '000123');
    assert.equal(copyValue(42), '42');
    assert.equal(copyValue(true), 'true');
    assert.equal(copyValue(null), '\\N');
    assert.equal(copyValue(undefined), '\\N');
    assert.equal(copyValue(''), '');
  });

  it('escapes what would end a value or a row, and drops NUL, which Postgres text cannot hold', () => {
    assert.equal(copyValue('12 Main St\nApt 4'), '12 Main St\\nApt 4');
    assert.equal(copyValue('a\r\nb'), 'a\\r\\nb');
    assert.equal(copyValue('Math\tScience'), 'Math\\tScience');
    assert.equal(copyValue('C:\\exports\\roster'), 'C:\\\\exports\\\\roster');
    assert.equal(copyValue('Ada\u0000Lovelace'), 'AdaLovelace');
    assert.equal(copyValue('\\N'), '\\\\N', 'a literal \\N in a file must not become null');
  });

  it('joins a row with tabs and ends it with a newline', () => {
    assert.equal(copyLine(['Ada', null, 'x\ty', 3]), 'Ada\t\\N\tx\\ty\t3\n');
  });
});
