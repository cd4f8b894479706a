import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client, utils } from 'ssh2';
import { hostKeyFingerprints } from '../../../lib/sftp-server/host-keys';
import { SftpHostKeysRepository } from '../../../lib/sftp-server/sftp-host-keys.repository';
import { type District, connectSsh2, loginError, makeKey, p, runSftp, useSftpServer } from './sftp-harness';

const execFileP = promisify(execFile);

describe('hosted SFTP: logins', () => {
  const h = useSftpServer({ maxFailedLogins: 3 });
  let district: District;

  before(async () => {
    district = await h.addDistrict('maple-valley');
  });

  it('accepts the generated password and refuses a wrong one', async () => {
    const password = await h.accounts.regeneratePassword(district.id, district.slug);
    assert.match(password, /^[A-Za-z0-9-]{24,}$/);
    const session = await connectSsh2({ port: h.port, username: district.slug, password });
    assert.equal(await p.realpath(session.sftp, '.'), '/');
    session.end();

    const err = await loginError({ port: h.port, username: district.slug, password: `${password}x` });
    assert.match(err.message, /authentication methods failed/i);
    const account = await h.accounts.getAccount(district.id);
    assert.equal(account?.hasPassword, true);
    assert.ok(account?.passwordChangedAt instanceof Date);
  });

  it('logs in with the generated password from OpenSSH sftp, as a person types it, and uploads', async () => {
    const password = await h.accounts.regeneratePassword(district.id, district.slug);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'askpass-'));
    // OpenSSH reads a password only from a terminal or SSH_ASKPASS: this stands in for the person typing.
    const askpass = path.join(dir, 'askpass.sh');
    fs.writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$SFTP_TEST_PASSWORD"\n', { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'users.csv'), 'Email\nana@maple.example.org\n');
    const sftp = (secret: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = execFile(
          'sftp',
          [
            '-P',
            String(h.port),
            '-o',
            'StrictHostKeyChecking=no',
            '-o',
            'UserKnownHostsFile=/dev/null',
            '-o',
            'PubkeyAuthentication=no',
            '-o',
            'NumberOfPasswordPrompts=1',
            `${district.slug}@127.0.0.1`,
          ],
          {
            cwd: dir,
            timeout: 30_000,
            env: {
              ...process.env,
              SSH_ASKPASS: askpass,
              SSH_ASKPASS_REQUIRE: 'force',
              SFTP_TEST_PASSWORD: secret,
            },
          },
          (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr }),
        );
        child.stdin?.end('put users.csv\n');
      });
    try {
      const ok = await sftp(password);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(
        fs.readFileSync(path.join(h.root, district.slug, 'users.csv'), 'utf8'),
        'Email\nana@maple.example.org\n',
      );
      const refused = await sftp(`${password}x`);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /Permission denied/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops accepting the old password as soon as a new one is generated', async () => {
    const old = await h.accounts.regeneratePassword(district.id, district.slug);
    const fresh = await h.accounts.regeneratePassword(district.id, district.slug);
    assert.notEqual(old, fresh);
    await loginError({ port: h.port, username: district.slug, password: old });
    const session = await connectSsh2({ port: h.port, username: district.slug, password: fresh });
    session.end();
  });

  it('never stores the plaintext password', async () => {
    const password = await h.accounts.regeneratePassword(district.id, district.slug);
    const { rows } = await h.db.pool.query<{ password_hash: string }>(
      'SELECT password_hash FROM sftp_accounts WHERE district_id = $1',
      [district.id],
    );
    assert.ok(!rows[0].password_hash.includes(password));
    assert.match(rows[0].password_hash, /^scrypt\$/);
    assert.ok(!fs.readFileSync(h.logFile, 'utf8').includes(password), 'password must not appear in logs');
  });

  it('logs in with a registered key from OpenSSH sftp, and refuses it once removed', async () => {
    const key = makeKey();
    const view = await h.accounts.addPublicKey(district.id, key.publicKey);
    const { stdout: keygenOut } = await execFileP('ssh-keygen', [
      '-l',
      '-E',
      'sha256',
      '-f',
      `${key.privateKeyPath}.pub`,
    ]);
    assert.equal(view.fingerprint, keygenOut.split(' ')[1], 'fingerprint as ssh-keygen prints it');
    assert.equal(view.algorithm, 'ssh-ed25519');
    assert.equal(view.comment, 'nightly-export');

    const ok = await runSftp({
      port: h.port,
      username: district.slug,
      keyPath: key.privateKeyPath,
      commands: ['pwd'],
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Remote working directory: \/\n/);

    assert.equal(await h.accounts.removePublicKey(district.id, view.id), true);
    assert.deepEqual(
      (await h.accounts.listPublicKeys(district.id)).map((k) => k.id),
      [],
    );
    const refused = await runSftp({
      port: h.port,
      username: district.slug,
      keyPath: key.privateKeyPath,
      commands: ['pwd'],
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Permission denied/);
  });

  it('refuses a listed public key whose signature was made with another private key', async () => {
    const listed = utils.generateKeyPairSync('ed25519');
    await h.accounts.addPublicKey(district.id, listed.public);
    const attacker = utils.parseKey(utils.generateKeyPairSync('ed25519').private);
    const listedPublic = utils.parseKey(listed.public);
    assert.ok(!(attacker instanceof Error) && !Array.isArray(attacker));
    assert.ok(!(listedPublic instanceof Error) && !Array.isArray(listedPublic));
    // Presents the listed public key but signs with the attacker's key: only a signature check stops it.
    const forged = Object.create(attacker) as typeof attacker;
    forged.getPublicSSH = () => listedPublic.getPublicSSH();
    const client = new Client();
    const outcome = await new Promise<string>((resolve) => {
      client.once('ready', () => resolve('logged in'));
      client.once('error', (err) => resolve(err.message));
      client.connect({
        host: '127.0.0.1',
        port: h.port,
        username: district.slug,
        authHandler: [{ type: 'publickey', username: district.slug, key: forged }] as never,
      });
    });
    client.end();
    assert.match(outcome, /authentication methods failed/i);
    // The genuine key still works.
    const session = await connectSsh2({ port: h.port, username: district.slug, privateKey: listed.private });
    session.end();
  });

  it('rejects public keys that are weak or malformed, saying what is accepted', async () => {
    const weak = utils.generateKeyPairSync('rsa', { bits: 1024 });
    await assert.rejects(h.accounts.addPublicKey(district.id, weak.public), (err: Error) => {
      assert.equal(err.name, 'InvalidPublicKeyError');
      assert.match(err.message, /1024 bits; at least 2048/);
      return true;
    });
    await assert.rejects(h.accounts.addPublicKey(district.id, 'ssh-ed25519 AAAAnotakey'), {
      name: 'InvalidPublicKeyError',
      message: /not a valid ssh-ed25519 key.*Accepted: ssh-ed25519/s,
    });
    await assert.rejects(h.accounts.addPublicKey(district.id, 'ssh-dss AAAAB3NzaC1kc3M= old'), {
      name: 'InvalidPublicKeyError',
      message: /"ssh-dss" is not accepted/,
    });
    await assert.rejects(h.accounts.addPublicKey(district.id, utils.generateKeyPairSync('ed25519').private), {
      name: 'InvalidPublicKeyError',
      message: /private key/,
    });
    const rsa = await h.accounts.addPublicKey(
      district.id,
      utils.generateKeyPairSync('rsa', { bits: 2048 }).public,
    );
    assert.equal(rsa.algorithm, 'ssh-rsa');
    const ecdsa = await h.accounts.addPublicKey(
      district.id,
      utils.generateKeyPairSync('ecdsa', { bits: 256 }).public,
    );
    assert.equal(ecdsa.algorithm, 'ecdsa-sha2-nistp256');
  });

  it('locks a username and address out after repeated failures, even for the right password', async () => {
    const other = await h.addDistrict('cedar-grove');
    const password = await h.accounts.regeneratePassword(other.id, other.slug);
    for (let i = 0; i < 3; i++)
      await loginError({ port: h.port, username: other.slug, password: `wrong-${i}` });
    await loginError({ port: h.port, username: other.slug, password });
    assert.match(fs.readFileSync(h.logFile, 'utf8'), /locked out/);
  });

  it('refuses unknown usernames and offers no shell or command execution', async () => {
    await loginError({ port: h.port, username: 'no-such-district', password: 'whatever-password' });
    const password = await h.accounts.regeneratePassword(district.id, district.slug);
    const session = await connectSsh2({ port: h.port, username: district.slug, password });
    const execError = await new Promise<Error | undefined>((resolve) =>
      session.client.exec('cat /etc/passwd', (err) => resolve(err)),
    );
    assert.ok(execError, 'exec must be refused');
    session.end();
  });

  it('serves host keys whose fingerprints match what clients see, and publishes them for the API', async () => {
    // What the API shows districts is what the server published at start, from the keys it serves.
    const published = await new SftpHostKeysRepository(h.db.pool).list();
    assert.deepEqual(published, await hostKeyFingerprints(h.hostKeysDir));
    assert.deepEqual(
      published.map((k) => k.algorithm),
      ['ssh-ed25519', 'ssh-rsa'],
    );
    for (const k of published) assert.match(k.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    const { stdout } = await execFileP('ssh-keyscan', [
      '-p',
      String(h.port),
      '-t',
      'ed25519,rsa',
      '127.0.0.1',
    ]);
    const keyscanFile = `${h.hostKeysDir}/../keyscan-${crypto.randomUUID()}`;
    fs.writeFileSync(keyscanFile, stdout);
    const { stdout: prints } = await execFileP('ssh-keygen', ['-l', '-E', 'sha256', '-f', keyscanFile]);
    const seen = prints
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[1])
      .sort();
    assert.deepEqual(seen, published.map((k) => k.fingerprint).sort());
  });
});
