import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFetchFileActivities } from '../../../activities/fetch-file.activities';
import { encryptSecret } from '../../../lib/crypto/secret-box';
import { testExternalConnection } from '../../../lib/files/external-connection-test';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { startOpenSshServer, type OpenSshServer } from '../../support/openssh-server';
import { FIXTURES } from '../../support/paths';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { queuedRun, seedDistrictWithConfig } from '../../support/seed';

const PASSPHRASE = 'district passphrase';

/** A district's own server as the district sets it up: a key with a passphrase, files in the login's home folder. */
describe("fetching from a district's own server: passphrase key and home folder", () => {
  let db: TestDatabase;
  let sshd: OpenSshServer;
  let dataDir: string;
  let passphraseKey: string;
  const secretKey = crypto.randomBytes(32).toString('hex');
  const roster = fs.readFileSync(path.join(FIXTURES, 'e2e', '01-initial-roster.csv'));
  const sha256 = crypto.createHash('sha256').update(roster).digest('hex');

  before(async () => {
    [db, sshd] = await Promise.all([createTestDatabase(), startOpenSshServer({ homeFolder: 'home' })]);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-fetch-login-'));
    const keyFile = path.join(sshd.dir, 'passphrase_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', keyFile]);
    passphraseKey = fs.readFileSync(keyFile, 'utf8');
    sshd.authorize(fs.readFileSync(`${keyFile}.pub`, 'utf8'));
    fs.writeFileSync(path.join(sshd.dir, 'home', 'users.csv'), roster);
  });
  after(async () => {
    await sshd?.stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const limits = { operationMs: 20_000, stallMs: 20_000, minBytesPerSecond: 0, windowMs: 60_000 };
  const activities = () =>
    createFetchFileActivities({
      pool: db.pool,
      artifacts: new ArtifactStore(path.join(dataDir, 'artifacts')),
      hostedRoot: path.join(dataDir, 'sftp'),
      secretKey,
      quietMs: 0,
      downloadConcurrency: 2,
      maxFileBytes: 2 * 1024 ** 3,
      // The OpenSSH server standing in for a district's own is on 127.0.0.1.
      allowPrivateAddresses: true,
      sourceLimits: limits,
    });
  const ownServer = (slug: string, config: Record<string, unknown>) =>
    seedDistrictWithConfig(
      db.pool,
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

  it('copies the file from the home folder through a key unlocked with its stored passphrase', async () => {
    const { id } = await ownServer('passphrase-home', {
      external_key_enc: encryptSecret(secretKey, passphraseKey),
      external_key_passphrase_enc: encryptSecret(secretKey, PASSPHRASE),
    });
    const fetched = await activities().fetchFile({ runId: await queuedRun(db.pool, id) });
    assert.equal(fetched.name, 'users.csv');
    assert.equal(fetched.sha256, sha256);
  });

  it('fails a wrong passphrase as AuthFailed (not retried), saying what to change', async () => {
    const { id } = await ownServer('wrong-passphrase', {
      external_key_enc: encryptSecret(secretKey, passphraseKey),
      external_key_passphrase_enc: encryptSecret(secretKey, 'not the passphrase'),
    });
    await assert.rejects(
      activities().fetchFile({ runId: await queuedRun(db.pool, id) }),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'AuthFailed');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /passphrase is wrong/);
        return true;
      },
    );
  });

  it('Test Connection shows the home folder it resolved', async () => {
    const result = await testExternalConnection(
      {
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.username,
        privateKey: passphraseKey,
        passphrase: PASSPHRASE,
        hostKeyFingerprint: sshd.hostKeyFingerprint,
        path: null,
        fileRule: 'latest',
        fileName: null,
        quietMs: 0,
        maxFileBytes: 1024 ** 3,
        matchingKey: 'email',
      },
      { allowPrivateAddresses: true },
    );
    assert.equal(result.ok, true, JSON.stringify(result.steps));
    const folder = result.steps.find((s) => s.step === 'path');
    assert.deepEqual(folder?.detail, { path: path.join(sshd.dir, 'home'), homeFolder: true });
    assert.match(folder?.message ?? '', /home folder of the login/);
  });

  it('Test Connection refuses a loopback host unless private addresses are allowed, without its address', async () => {
    const result = await testExternalConnection(
      {
        host: 'localhost',
        port: sshd.port,
        username: sshd.username,
        privateKey: passphraseKey,
        passphrase: PASSPHRASE,
        hostKeyFingerprint: sshd.hostKeyFingerprint,
        path: null,
        fileRule: 'latest',
        fileName: null,
        quietMs: 0,
        maxFileBytes: 1024 ** 3,
        matchingKey: 'email',
      },
      { allowPrivateAddresses: false },
    );
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
