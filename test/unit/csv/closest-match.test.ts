import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestMatch, editDistance } from '../../../lib/csv/closest-match';
import { knownColumn, normalizeHeader } from '../../../lib/csv/roster-columns';
import { canonicalRole } from '../../../lib/csv/roster-roles';

describe('did-you-mean lookups', () => {
  it('counts a swap of two neighbouring letters as one typo', () => {
    assert.equal(editDistance('emial', 'email'), 1);
    assert.equal(editDistance('teachr', 'teacher'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('abc', 'abcdefgh', 2), 3, 'stops early past the budget');
  });

  it('suggests the school a district meant, and nothing for an unrelated name', () => {
    const schools = ['Minty Middle School', 'Oak Grove Elementary', 'Lincoln High School'];
    const norm = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();
    assert.equal(closestMatch('Minty Middle', schools, norm), 'Minty Middle School');
    assert.equal(closestMatch('MINTY MIDDLE SCHOOL', schools, norm), 'Minty Middle School');
    assert.equal(closestMatch('Lincon High School', schools, norm), 'Lincoln High School');
    assert.equal(closestMatch('Oak Grove Elem', schools, norm), 'Oak Grove Elementary');
    assert.equal(closestMatch('Washington Academy', schools, norm), null);
    assert.equal(closestMatch('Mid', schools, norm), null, 'too short to guess from');
  });

  it('matches headers however the export spells the separators', () => {
    for (const header of [
      'first_name',
      'FIRST-NAME',
      ' "First Name" ',
      'FirstName',
      'first  name',
      '\uFEFFFirst Name',
    ]) {
      assert.equal(knownColumn(header)?.header, 'First Name', JSON.stringify(header));
    }
    assert.equal(normalizeHeader('Coach-Email'), 'coachemail');
    assert.equal(knownColumn('Grade Level'), undefined);
  });

  it('knows each role by its usual spellings', () => {
    assert.equal(canonicalRole('school_admin'), 'School Admin');
    assert.equal(canonicalRole('SYSTEM ADMIN'), 'System Admin');
    assert.equal(canonicalRole('Parent / Guardian'), 'Parent/Guardian');
    assert.equal(canonicalRole('guardian'), 'Parent/Guardian');
    assert.equal(canonicalRole('Principal'), undefined);
  });
});
