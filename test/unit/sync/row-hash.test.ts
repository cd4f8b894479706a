import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RosterRecord } from '../../../lib/csv/roster-record';
import { rowHash } from '../../../lib/sync/row-hash';

const ada = (r: Partial<RosterRecord> = {}): RosterRecord => ({
  rowNumber: 2,
  firstName: 'Ada',
  lastName: 'Lovelace',
  email: 'ada.lovelace@district.org',
  internalId: '000123',
  accountingId: null,
  cleverId: null,
  platformId: null,
  role: 'Teacher',
  school: 'Lincoln Elementary',
  coachEmail: 'grace.hopper@district.org',
  phone: null,
  custom: { Room: '12', Department: 'Math' },
  ...r,
});

describe('row hash', () => {
  it('keeps the value stored on existing users (a new value would rewrite every user once)', () => {
    assert.equal(rowHash(ada()), 'dPsKTh86bxc6ceHpAk9JPA');
  });

  it('ignores the order of custom columns, the row number and the Platform ID', () => {
    const same = ada({
      rowNumber: 900,
      platformId: '3f1c2a4e-0000-4000-8000-000000000001',
      custom: { Department: 'Math', Room: '12' },
    });
    assert.equal(rowHash(same), rowHash(ada()));
  });

  it('changes with any value written to the user', () => {
    const changes: Array<Partial<RosterRecord>> = [
      { firstName: 'Augusta' },
      { email: 'ada@district.org' },
      { internalId: '123' },
      { accountingId: 'A-1' },
      { role: 'Coach' },
      { school: null },
      { coachEmail: null },
      { phone: '555-0100' },
      { custom: { Room: '14', Department: 'Math' } },
    ];
    for (const change of changes)
      assert.notEqual(rowHash(ada(change)), rowHash(ada()), JSON.stringify(change));
  });
});
