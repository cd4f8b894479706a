import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadEnv } from '../../../lib/config/env';
import { plainUploadState } from '../../../lib/files/upload-quiet';
import { loadSftpConfig } from '../../../lib/sftp-server/sftp-config';

const NOW = Date.parse('2026-12-01T08:00:00Z');
const base = {
  DATABASE_URL: 'postgres://localhost/rostersync',
  API_TOKEN: 'x'.repeat(16),
  SECRET_KEY: 'k'.repeat(64),
};

describe('when a plain upload is complete', () => {
  it('is complete once closed and unchanged for the quiet period', () => {
    const file = { path: 'users.csv', mtimeMs: NOW - 30_000 };
    assert.deepEqual(plainUploadState(file, NOW, 30_000), { complete: true });
    const recent = plainUploadState({ ...file, mtimeMs: NOW - 10_000 }, NOW, 30_000);
    assert.equal(recent.complete, false);
    assert.equal(!recent.complete && recent.waitMs, 20_000);
    assert.match(!recent.complete ? recent.reason : '', /users\.csv changed 10s ago .* unchanged for 30s/);
  });

  it('is never complete while open for writing, or after an interrupted upload, however old its last change', () => {
    const file = { path: 'users.csv', mtimeMs: NOW - 3_600_000 };
    const open = plainUploadState({ ...file, unfinished: 'open' }, NOW, 30_000);
    assert.equal(open.complete, false);
    assert.match(!open.complete ? open.reason : '', /still being uploaded \(it is open for writing/);
    const cut = plainUploadState({ ...file, unfinished: 'interrupted' }, NOW, 30_000);
    assert.equal(cut.complete, false);
    assert.match(
      !cut.complete ? cut.reason : '',
      /incomplete: its last upload .* was interrupted .* Upload it again/,
    );
  });

  it('has one setting the worker and the hosted server both read', () => {
    for (const source of [{}, { UPLOAD_QUIET_SECONDS: '12' }]) {
      assert.equal(
        loadEnv({ ...base, ...source }).UPLOAD_QUIET_SECONDS * 1000,
        loadSftpConfig(source).quietMs,
      );
    }
    assert.equal(loadSftpConfig({}).quietMs, 30_000);
  });

  it('still accepts the old names, and refuses two old names that disagree', () => {
    assert.equal(loadEnv({ ...base, FETCH_QUIET_SECONDS: '7' }).UPLOAD_QUIET_SECONDS, 7);
    assert.equal(loadSftpConfig({ SFTP_QUIET_SECONDS: '7' }).quietMs, 7_000);
    assert.equal(
      loadEnv({ ...base, FETCH_QUIET_SECONDS: '7', UPLOAD_QUIET_SECONDS: '9' }).UPLOAD_QUIET_SECONDS,
      9,
    );
    // The old defaults set explicitly: the mismatch this setting removes.
    const mismatch = { FETCH_QUIET_SECONDS: '5', SFTP_QUIET_SECONDS: '30' };
    assert.throws(
      () => loadEnv({ ...base, ...mismatch }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /UPLOAD_QUIET_SECONDS: .* disagrees .* Set UPLOAD_QUIET_SECONDS once and remove the old names/,
        );
        return true;
      },
    );
    assert.throws(() => loadSftpConfig(mismatch), /Set UPLOAD_QUIET_SECONDS once/);
  });
});
