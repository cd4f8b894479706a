import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadEnv } from '../../../lib/config/env';
import { loadSftpConfig, sftpLimits } from '../../../lib/sftp-server/sftp-config';

describe('hosted SFTP settings', () => {
  const base = {
    DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
    API_TOKEN: 'x'.repeat(32),
    SECRET_KEY: 'k'.repeat(64),
  };

  it('are part of the one environment: the SFTP app and a server started alone read the same limits', () => {
    const source = { SFTP_MAX_HANDLES: '8', SFTP_IDLE_TIMEOUT_SECONDS: '60' };
    const alone = loadSftpConfig(source);
    assert.deepEqual(sftpLimits(loadEnv({ ...base, ...source })), { ...alone });
    assert.equal(alone.maxHandles, 8);
    assert.equal(alone.idleTimeoutMs, 60_000);
    assert.ok(Object.isFrozen(alone));
  });

  it('keep their defaults', () => {
    const limits = loadSftpConfig({});
    assert.equal(limits.maxFileBytes, 2 * 1024 ** 3);
    assert.equal(limits.quotaBytes, 10 * 1024 ** 3);
    assert.equal(limits.maxEntries, 10_000);
    assert.equal(limits.maxHandles, 64);
    assert.equal(limits.maxSessionsPerAccount, 4);
    assert.equal(limits.idleTimeoutMs, 600_000);
    assert.equal(limits.maxFailedLogins, 5);
    assert.equal(limits.maxFailedLoginsPerAddress, 20);
    assert.equal(limits.maxUnauthenticatedPerAddress, 10);
    assert.equal(limits.maxPasswordChecks, 2);
  });

  it('name every bad value the way every other setting is named', () => {
    for (const load of [
      () => loadSftpConfig({ SFTP_MAX_FILE_BYTES: '0', SFTP_MAX_HANDLES: 'many' }),
      () => loadEnv({ ...base, SFTP_MAX_FILE_BYTES: '0', SFTP_MAX_HANDLES: 'many' }),
    ]) {
      assert.throws(load, (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^Invalid configuration:/);
        assert.match(err.message, /SFTP_MAX_FILE_BYTES: /);
        assert.match(err.message, /SFTP_MAX_HANDLES: /);
        assert.match(err.message, /Set these environment variables and start again\.$/);
        return true;
      });
    }
  });
});
