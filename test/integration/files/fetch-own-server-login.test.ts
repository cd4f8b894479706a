import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encryptSecret } from '../../../lib/crypto/secret-box';
import { testExternalConnection } from '../../../lib/files/external-connection-test';
import { startOpenSshServer, type OpenSshServer } from '../../support/openssh-server';
import { FIXTURES } from '../../support/paths';
import { queuedRun, seedDistrictWithConfig } from '../../support/seed';
import { type FetchHarness, startFetchHarness } from './fetch-harness';

const PASSPHRASE = 'district passphrase';

/** A district's own server as the district sets it up: a key with a passphrase, files in the login's home folder. */
describe("fetching from a district's own server: passphrase key and home folder", () => {
  let h: FetchHarness;
  let sshd: OpenSshServer;
  let passphraseKey: string;
  const roster = fs.readFileSync(path.join(FIXTURES, 'e2e', '01-initial-roster.csv'));

  before(async () => {
    // The OpenSSH server standing in for a district's own is on 127.0.0.1: private addresses allowed.
    [h, sshd] = await Promise.all([
      startFetchHarness('own-login', { EXTERNAL_SFTP_ALLOW_PRIVATE: 'true', UPLOAD_QUIET_SECONDS: '0' }),
      startOpenSshServer({ homeFolder: 'home' }),
    ]);
    const keyFile = path.join(sshd.dir, 'passphrase_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', keyFile]);
    passphraseKey = fs.readFileSync(keyFile, 'utf8');
    sshd.authorize(fs.readFileSync(`${keyFile}.pub`, 'utf8'));
    fs.writeFileSync(path.join(sshd.dir, 'home', 'users.csv'), roster);
  });
  after(async () => {
    await sshd?.stop();
    await h?.close();
  });

  const secret = (value: string) => encryptSecret(h.env.SECRET_KEY, value);
  const ownServer = (slug: string, config: Record<string, unknown>) =>
    seedDistrictWithConfig(
      h.db.pool,
      {
        source: 'external',
        file_rule: 'latest',
        external_host: '127.0.0.1',
        external_port: sshd.port,
        external_username: sshd.username,
        external_host_key: sshd.hostKeyFingerprint,
        // No path: the login's home folder.
        external_path: null,
        ...config,
      },
      { slug },
    );

  /** Test Connection settings for the passphrase key login into the home folder. */
  const loginSettings = (host: string) => ({
    host,
    port: sshd.port,
    username: sshd.username,
    privateKey: passphraseKey,
    passphrase: PASSPHRASE,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    path: null,
    fileRule: 'latest' as const,
    fileName: null,
    quietMs: 0,
    maxFileBytes: 1024 ** 3,
    matchingKey: 'email' as const,
  });

  it('copies the file from the home folder through a key unlocked with its stored passphrase', async () => {
    const { id } = await ownServer('passphrase-home', {
      external_key_enc: secret(passphraseKey),
      external_key_passphrase_enc: secret(PASSPHRASE),
    });
    const fetched = await h.activities.fetchFile({ runId: await queuedRun(h.db.pool, id) });
    assert.equal(fetched.name, 'users.csv');
    assert.deepEqual(fs.readFileSync(path.join(h.artifactsRoot, fetched.fileRef)), roster);
  });

  it('fails a wrong passphrase as AuthFailed (not retried), saying what to change', async () => {
    const { id } = await ownServer('wrong-passphrase', {
      external_key_enc: secret(passphraseKey),
      external_key_passphrase_enc: secret('not the passphrase'),
    });
    await assert.rejects(
      h.activities.fetchFile({ runId: await queuedRun(h.db.pool, id) }),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'AuthFailed');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /passphrase is wrong/);
        return true;
      },
    );
  });

  it('Test Connection shows the home folder it resolved', async () => {
    const result = await testExternalConnection(loginSettings('127.0.0.1'), { allowPrivateAddresses: true });
    assert.equal(result.ok, true, JSON.stringify(result.steps));
    const folder = result.steps.find((s) => s.step === 'path');
    assert.deepEqual(folder?.detail, { path: path.join(sshd.dir, 'home'), homeFolder: true });
    assert.match(folder?.message ?? '', /home folder of the login/);
  });

  it('Test Connection refuses a loopback host unless private addresses are allowed, without its address', async () => {
    const result = await testExternalConnection(loginSettings('localhost'), { allowPrivateAddresses: false });
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.steps.map((s) => `${s.step}:${s.status}${s.code ? `:${s.code}` : ''}`),
      [
        'dns:failed:HOST_NOT_ALLOWED',
        ...['tcp', 'ssh', 'auth', 'path', 'file', 'header'].map((s) => `${s}:skipped`),
      ],
    );
    assert.match(result.steps[0].message, /did not connect to localhost: it resolves to a loopback address/);
    assert.match(result.steps[0].message, /EXTERNAL_SFTP_ALLOW_PRIVATE=true/);
    assert.doesNotMatch(JSON.stringify(result), /127\.0\.0\.1|::1/);
  });
});
