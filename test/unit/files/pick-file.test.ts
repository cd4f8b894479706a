import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pickFile, type DirEntry } from '../../../lib/files/pick-file';

const NOW = Date.parse('2026-11-23T08:00:00Z');
const file = (path: string, minutesAgo: number, size = 100): DirEntry => ({
  path,
  isDirectory: false,
  size,
  mtimeMs: NOW - minutesAgo * 60_000,
});
const dir = (path: string): DirEntry => ({ path, isDirectory: true, size: 0, mtimeMs: NOW });
const opts = { nowMs: NOW, quietMs: 30_000 };
/** The path of the file a pick chose, or false when it chose none. */
const pickedPath = (pick: ReturnType<typeof pickFile>) => pick.kind === 'file' && pick.entry.path;

describe('choosing the file a run reads', () => {
  it('latest: takes the newest CSV in the top folder, ignoring temporary names and sub-folders', () => {
    const pick = pickFile(
      [
        file('monday.csv', 60 * 24),
        file('tuesday.csv', 10),
        file('wednesday.csv.filepart', 1),
        file('.hidden.csv', 1),
        file('~users.csv', 1),
        file('users.csv.uploading', 1),
        file('archive/new.csv', 0.5),
      ],
      'latest',
      opts,
    );
    assert.equal(pick.kind, 'file');
    assert.equal(pickedPath(pick), 'tuesday.csv');
  });

  it('latest: a file changed within the quiet period is treated as still uploading', () => {
    const pick = pickFile([file('users.csv', 0.1)], 'latest', opts);
    assert.equal(pick.kind, 'uploading');
  });

  it('latest: says what to do when only a workbook was uploaded', () => {
    const pick = pickFile([file('users.xlsx', 10)], 'latest', opts);
    assert.equal(pick.kind, 'none');
    assert.match(pick.kind === 'none' ? pick.reason : '', /Save the export as CSV/);
  });

  it('specific name: exact and case-sensitive, with a hint when only the case differs', () => {
    assert.equal(
      pickFile([file('staff.csv', 10)], 'specific_name', { ...opts, fileName: 'staff.csv' }).kind,
      'file',
    );
    const pick = pickFile([file('Staff.CSV', 10)], 'specific_name', { ...opts, fileName: 'staff.csv' });
    assert.equal(pick.kind, 'none');
    assert.match(pick.kind === 'none' ? pick.reason : '', /case-sensitive/);
  });

  it('epoch: takes the newest epoch folder that has COMPLETE, never one still uploading', () => {
    const entries = [
      dir('upload'),
      dir('upload/20261121-020000'),
      file('upload/20261121-020000/users.csv', 60 * 48),
      file('upload/20261121-020000/COMPLETE', 60 * 48, 0),
      dir('upload/20261122-020000'),
      file('upload/20261122-020000/users.csv', 60 * 24),
      file('upload/20261122-020000/COMPLETE', 60 * 24, 0),
      dir('upload/20261123-020000'),
      file('upload/20261123-020000/users.csv', 1),
    ];
    const pick = pickFile(entries, 'epoch', opts);
    assert.equal(pickedPath(pick), 'upload/20261122-020000/users.csv');
  });

  it('epoch: a folder with COMPLETE is still uploading while one of its files is open or cut off on the hosted server', () => {
    const entries = [
      dir('upload'),
      dir('upload/20261123-020000'),
      file('upload/20261123-020000/users.csv', 5),
      file('upload/20261123-020000/staff.csv', 5),
      file('upload/20261123-020000/COMPLETE', 5, 0),
    ];
    const open = pickFile(entries, 'epoch', {
      ...opts,
      unfinished: new Map([['upload/20261123-020000/staff.csv', 'open' as const]]),
    });
    assert.equal(open.kind, 'uploading');
    assert.match(
      open.kind === 'uploading' ? open.reason : '',
      /Epoch folder \/upload\/20261123-020000\/ is still being uploaded: \/upload\/20261123-020000\/staff\.csv is unfinished, it is still open for writing/,
    );
    const cut = pickFile(entries, 'epoch', {
      ...opts,
      unfinished: new Map([['upload/20261123-020000/users.csv', 'interrupted' as const]]),
    });
    assert.match(cut.kind === 'uploading' ? cut.reason : '', /interrupted .* upload it again/);
    const renaming = pickFile(entries, 'epoch', {
      ...opts,
      unfinished: new Map([['upload/20261123-020000/groups.csv.filepart', 'open' as const]]),
    });
    assert.match(renaming.kind === 'uploading' ? renaming.reason : '', /groups\.csv\.filepart is unfinished/);
    const done = pickFile(entries, 'epoch', { ...opts, unfinished: new Map() });
    assert.equal(pickedPath(done), 'upload/20261123-020000/users.csv');
  });

  it('epoch: explains a missing COMPLETE file', () => {
    const pick = pickFile(
      [dir('upload'), dir('upload/20261123-020000'), file('upload/20261123-020000/users.csv', 5)],
      'epoch',
      opts,
    );
    assert.equal(pick.kind, 'none');
    assert.match(pick.kind === 'none' ? pick.reason : '', /COMPLETE/);
  });

  it('auto suffix: takes the newest *_auto.csv in /upload/', () => {
    const pick = pickFile(
      [
        dir('upload'),
        file('upload/staff_auto.csv', 10),
        file('upload/students_auto.csv', 5),
        file('users_auto.csv', 1),
      ],
      'auto_suffix',
      opts,
    );
    assert.equal(pickedPath(pick), 'upload/students_auto.csv');
  });

  it('auto suffix: finds the file where the hosted server moved it, in a complete epoch folder of its own', () => {
    const moved = [
      dir('upload'),
      dir('upload/20261128-020000'),
      file('upload/20261128-020000/staff_auto.csv', 120),
      file('upload/20261128-020000/COMPLETE', 120),
      // An epoch folder still being filled by hand is not the server's doing: not read.
      dir('upload/20261128-030000'),
      file('upload/20261128-030000/late_auto.csv', 60),
    ];
    const pick = pickFile(moved, 'auto_suffix', opts);
    assert.equal(pickedPath(pick), 'upload/20261128-020000/staff_auto.csv');
    // A newer one waiting in /upload/ (a district's own server) goes first once it is quiet.
    const newer = pickFile([...moved, file('upload/next_auto.csv', 40)], 'auto_suffix', opts);
    assert.equal(pickedPath(newer), 'upload/next_auto.csv');
  });
});
