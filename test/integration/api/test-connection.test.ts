import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../../scripts/dev/embedded-postgres';
import type { ConnectionTestResult } from '../../../lib/files/connection-test';
import { STEP_LIMITS_MS } from '../../../lib/files/connection-test';
import { startOpenSshServer, type OpenSshServer } from '../../support/openssh-server';
import { FIXTURES } from '../../support/paths';
import { makeSshKey } from '../../support/ssh-keys';
import { BASE_CONFIG, bearerAgent, createDistrict, issueKey, useApi } from './api-harness';

const PASSPHRASE = 'correct horse battery staple';
const OTHER_FINGERPRINT = 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8';

/** Each step as `step:status[:code]`, the way an admin reads the answer top to bottom. */
const outline = (result: ConnectionTestResult): string[] =>
  result.steps.map((s) => [s.step, s.status, s.code].filter(Boolean).join(':'));

const skippedFrom = (steps: string[]) => steps.map((step) => `${step}:skipped`);

describe('API: Test Connection against a real OpenSSH server', () => {
  // The OpenSSH server standing in for a district's own is on loopback: private addresses allowed.
  const h = useApi({ EXTERNAL_SFTP_ALLOW_PRIVATE: 'true', UPLOAD_QUIET_SECONDS: '0' });
  let sshd: OpenSshServer;
  let exportsDir: string;
  let passphraseKey: string;
  const roster = fs.readFileSync(path.join(FIXTURES, 'e2e', '01-initial-roster.csv'));

  before(async () => {
    sshd = await startOpenSshServer({ passwordAuthentication: true, otherLogin: true });
    exportsDir = path.join(sshd.dir, 'exports');
    fs.mkdirSync(exportsDir);
    fs.writeFileSync(path.join(exportsDir, 'users.csv'), roster);
    fs.mkdirSync(path.join(sshd.dir, 'empty'));
    fs.mkdirSync(path.join(sshd.dir, 'no-role'));
    fs.writeFileSync(
      path.join(sshd.dir, 'no-role', 'users.csv'),
      'First Name,Last Name,Email,Favourite Colour\nAda,Lovelace,ada@district.example,green\n',
    );
    // Mode 000 denies the second login (`nobody` when tests run as root, who bypasses file modes).
    fs.mkdirSync(path.join(sshd.dir, 'locked'), { mode: 0o000 });
    fs.chmodSync(path.join(sshd.dir, 'locked'), 0o000);
    const keyFile = path.join(sshd.dir, 'passphrase_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', keyFile]);
    passphraseKey = fs.readFileSync(keyFile, 'utf8');
    sshd.authorize(fs.readFileSync(`${keyFile}.pub`, 'utf8'));
  });
  after(async () => {
    if (fs.existsSync(path.join(sshd.dir, 'locked'))) fs.chmodSync(path.join(sshd.dir, 'locked'), 0o755);
    await sshd?.stop();
  });

  /** A candidate config for the test's sshd: a key login as the current user, its host key pinned. */
  const candidate = (external: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => ({
    ...BASE_CONFIG,
    source: 'external',
    fileRule: 'latest',
    ...config,
    external: {
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      path: exportsDir,
      ...external,
    },
  });

  const testConnection = async (districtId: string, body?: object): Promise<ConnectionTestResult> => {
    const req = h.api().post(`/districts/${districtId}/sync-config/test-connection`);
    const res = await (body ? req.send(body) : req).expect(200);
    return res.body as ConnectionTestResult;
  };

  it('walks every step of a working config and names the file the next run would read', async () => {
    const d = await createDistrict(h);
    const result = await testConnection(d.id, candidate());
    assert.deepEqual(outline(result), [
      'dns:ok',
      'tcp:ok',
      'ssh:ok',
      'auth:ok',
      'path:ok',
      'file:ok',
      'header:ok',
    ]);
    assert.equal(result.ok, true);
    const [, , ssh, , folder, file, header] = result.steps;
    assert.equal(ssh.detail?.fingerprint, sshd.hostKeyFingerprint);
    assert.equal(folder.detail?.path, exportsDir);
    assert.equal(file.detail?.name, 'users.csv');
    assert.equal(file.detail?.size, roster.length);
    assert.match(String(file.detail?.modifiedAt), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(header.detail?.missing, []);
    assert.deepEqual(header.detail?.extra, []);
    assert.match(header.message, /every required column/);

    // Saved (key stored encrypted), then tested with no body: the stored key is used.
    await h.api().put(`/districts/${d.id}/sync-config`).send(candidate()).expect(200);
    assert.equal((await testConnection(d.id)).ok, true);
    // A candidate without the key falls back to the stored one, as a PUT would keep it.
    const { privateKey: _key, ...withoutKey } = candidate().external;
    assert.equal((await testConnection(d.id, { ...candidate(), external: withoutKey })).ok, true);
    const leaked = h.responses.filter((text) => text.includes('PRIVATE KEY'));
    assert.deepEqual(leaked, [], 'no response holds the private key');
  });

  it('saves a passphrase key and the home folder, shows neither secret, and tests them as saved', async () => {
    const d = await createDistrict(h);
    const body = candidate({
      path: undefined,
      useHomeFolder: true,
      privateKey: passphraseKey,
      privateKeyPassphrase: PASSPHRASE,
    });
    const saved = await h.api().put(`/districts/${d.id}/sync-config`).send(body).expect(200);
    assert.equal(saved.body.external.path, null);
    assert.equal(saved.body.external.hasPrivateKey, true);
    assert.equal(saved.body.external.hasPrivateKeyPassphrase, true);
    const { rows } = await h.db.pool.query<{ external_key_passphrase_enc: string }>(
      'SELECT external_key_passphrase_enc FROM sync_configs WHERE district_id = $1',
      [d.id],
    );
    assert.ok(!rows[0].external_key_passphrase_enc.includes(PASSPHRASE), 'stored encrypted');
    const result = await testConnection(d.id);
    assert.deepEqual(outline(result).slice(3, 5), ['auth:ok', 'path:ok']);
    assert.equal(result.steps[4].detail?.homeFolder, true);
  });

  it('reads the header against the config: missing required columns and no file at all', async () => {
    const d = await createDistrict(h);
    const noRole = await testConnection(d.id, candidate({ path: path.join(sshd.dir, 'no-role') }));
    assert.deepEqual(outline(noRole).slice(5), ['file:ok', 'header:failed:MISSING_REQUIRED_COLUMN']);
    assert.deepEqual(noRole.steps[6].detail?.missing, ['Role']);
    assert.match(noRole.steps[6].message, /'Favourite Colour'/);
    const empty = await testConnection(d.id, candidate({ path: path.join(sshd.dir, 'empty') }));
    assert.deepEqual(outline(empty).slice(5), ['file:failed:NO_FILE_QUALIFIES', 'header:skipped']);
    assert.match(empty.steps[5].message, /No \.csv file in the folder/);
  });

  it('refuses a wrong password and a wrong key at the auth step', async () => {
    const d = await createDistrict(h);
    const password = await testConnection(d.id, candidate({ privateKey: undefined, password: 'not-it' }));
    assert.deepEqual(outline(password), [
      'dns:ok',
      'tcp:ok',
      'ssh:ok',
      'auth:failed:AUTH_FAILED',
      ...skippedFrom(['path', 'file', 'header']),
    ]);
    assert.match(password.steps[3].message, /refused user '.+' with the password given/);
    const stranger = makeSshKey();
    try {
      const key = fs.readFileSync(stranger.privateKeyPath, 'utf8');
      const wrongKey = await testConnection(d.id, candidate({ privateKey: key }));
      assert.equal(outline(wrongKey)[3], 'auth:failed:AUTH_FAILED');
      assert.match(wrongKey.steps[3].message, /with the private key given/);
    } finally {
      fs.rmSync(stranger.dir, { recursive: true, force: true });
    }
    assert.ok(!h.responses.some((text) => text.includes('not-it')), 'the password is never echoed');
  });

  it('logs in with a passphrase-protected key, and says when the passphrase is wrong or missing', async () => {
    const d = await createDistrict(h);
    const right = await testConnection(
      d.id,
      candidate({ privateKey: passphraseKey, privateKeyPassphrase: PASSPHRASE }),
    );
    assert.equal(right.ok, true, JSON.stringify(right.steps));
    const wrong = await testConnection(
      d.id,
      candidate({ privateKey: passphraseKey, privateKeyPassphrase: 'wrong horse' }),
    );
    assert.deepEqual(outline(wrong).slice(2, 5), [
      'ssh:ok',
      'auth:failed:KEY_PASSPHRASE_WRONG',
      'path:skipped',
    ]);
    assert.match(wrong.steps[3].message, /passphrase is wrong/);
    const missing = await testConnection(d.id, candidate({ privateKey: passphraseKey }));
    assert.equal(outline(missing)[3], 'auth:failed:KEY_PASSPHRASE_WRONG');
    assert.match(missing.steps[3].message, /none is set/);
    assert.ok(!h.responses.some((text) => text.includes(PASSPHRASE)), 'the passphrase is never echoed');
  });

  it('shows an unknown host key to pin, and refuses a changed one showing both', async () => {
    const d = await createDistrict(h);
    const unknown = await testConnection(d.id, candidate({ hostKeyFingerprint: undefined }));
    assert.deepEqual(outline(unknown), [
      'dns:ok',
      'tcp:ok',
      'ssh:failed:HOST_KEY_UNKNOWN',
      ...skippedFrom(['auth', 'path', 'file', 'header']),
    ]);
    assert.equal(unknown.steps[2].detail?.fingerprint, sshd.hostKeyFingerprint);
    assert.ok(unknown.steps[2].message.includes(sshd.hostKeyFingerprint));
    const changed = await testConnection(d.id, candidate({ hostKeyFingerprint: OTHER_FINGERPRINT }));
    assert.equal(outline(changed)[2], 'ssh:failed:HOST_KEY_MISMATCH');
    assert.deepEqual(changed.steps[2].detail, {
      fingerprint: sshd.hostKeyFingerprint,
      pinned: OTHER_FINGERPRINT,
    });
    // A config without a fingerprint cannot be saved: the answer above is how the admin gets one.
    const put = await h
      .api()
      .put(`/districts/${d.id}/sync-config`)
      .send(candidate({ hostKeyFingerprint: undefined }));
    assert.equal(put.status, 400);
    assert.match(put.body.message, /hostKeyFingerprint is required to save: POST .*test-connection/);
  });

  it('names a missing folder and a folder the login may not read', async () => {
    const d = await createDistrict(h);
    const missing = await testConnection(d.id, candidate({ path: '/no/such/folder' }));
    assert.deepEqual(outline(missing).slice(3), [
      'auth:ok',
      'path:failed:PATH_MISSING',
      ...skippedFrom(['file', 'header']),
    ]);
    assert.match(missing.steps[4].message, /Folder \/no\/such\/folder does not exist/);
    const locked = await testConnection(
      d.id,
      candidate({ username: sshd.otherUsername, path: path.join(sshd.dir, 'locked') }),
    );
    assert.deepEqual(outline(locked).slice(3, 5), ['auth:ok', 'path:failed:PATH_PERMISSION_DENIED']);
  });

  it('says a closed port refused the connection, naming the host as written, not its address', async () => {
    const d = await createDistrict(h);
    const closed = await freePort();
    const result = await testConnection(d.id, candidate({ host: 'localhost', port: closed }));
    assert.deepEqual(outline(result), [
      'dns:ok',
      'tcp:failed:CONNECTION_REFUSED',
      ...skippedFrom(['ssh', 'auth', 'path', 'file', 'header']),
    ]);
    assert.match(result.steps[1].message, new RegExp(`localhost:${closed} refused the connection`));
    assert.doesNotMatch(JSON.stringify(result), /127\.0\.0\.1|::1/);
  });

  it('answers a port that accepts TCP and never speaks SSH as a timeout, within the ssh step limit', async () => {
    const d = await createDistrict(h);
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const started = Date.now();
      const result = await testConnection(d.id, candidate({ port }));
      const elapsed = Date.now() - started;
      assert.deepEqual(outline(result).slice(1, 4), [
        'tcp:ok',
        'ssh:failed:SSH_HANDSHAKE_TIMEOUT',
        'auth:skipped',
      ]);
      assert.ok(elapsed >= STEP_LIMITS_MS.ssh - 100, `waited the ssh limit (${elapsed} ms)`);
      assert.ok(elapsed < STEP_LIMITS_MS.ssh + 2_000, `answered within the ssh limit (${elapsed} ms)`);
      assert.match(result.steps[2].message, /did not complete an SSH handshake within 4 s/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('answers the folder, file and header of the hosted source', async () => {
    const d = await createDistrict(h);
    const hosted = { ...BASE_CONFIG, source: 'hosted', fileRule: 'latest' };
    const none = await testConnection(d.id, hosted);
    assert.deepEqual(outline(none), ['path:failed:PATH_MISSING', 'file:skipped', 'header:skipped']);
    const folder = path.join(h.dataDir, 'sftp', d.slug);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'roster.csv'), roster);
    const result = await testConnection(d.id, hosted);
    assert.deepEqual(outline(result), ['path:ok', 'file:ok', 'header:ok']);
    assert.equal(result.steps[1].detail?.name, 'roster.csv');
  });

  it('validates a candidate as PUT does, and keeps a district key to its own district (404)', async () => {
    const a = await createDistrict(h);
    const b = await createDistrict(h);
    const bad = await h
      .api()
      .post(`/districts/${a.id}/sync-config/test-connection`)
      .send({ ...BASE_CONFIG, source: 'external' })
      .expect(400);
    assert.match(bad.body.message, /external: external is required when source is "external"/);
    // No body and nothing saved: the same 404 as GET.
    await h.api().post(`/districts/${a.id}/sync-config/test-connection`).expect(404);
    const keyOfA = bearerAgent(h.app, await issueKey(h, a.id), h.responses);
    await keyOfA.post(`/districts/${b.id}/sync-config/test-connection`).send(candidate()).expect(404);
    await keyOfA.post(`/districts/${a.id}/sync-config/test-connection`).send(candidate()).expect(200);
  });
});
