import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decryptSecret } from '../../../lib/crypto/secret-box';
import { ensureHostKeys, fingerprintsOf, hostKeyFingerprints } from '../../../lib/sftp-server/host-keys';
import { SftpHostKeysRepository } from '../../../lib/sftp-server/sftp-host-keys.repository';
import { BASE_CONFIG, createDistrict, useApi } from './api-harness';

function sshString(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

/** A fresh OpenSSH ed25519 public key line, as a district admin would paste from id_ed25519.pub. */
function ed25519PublicKeyLine(comment: string): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

const PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${crypto.randomBytes(96).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
const FINGERPRINT = 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8';

describe('API: sync config and SFTP credentials', () => {
  const h = useApi();
  /** Saves a district's sync config, expecting `status`. */
  const putConfig = (districtId: string, body: object, status: number) =>
    h.api().put(`/districts/${districtId}/sync-config`).send(body).expect(status);

  it('saves a config, shows it back and starts the district workflow with its schedule', async () => {
    const d = await createDistrict(h);
    await h.api().get(`/districts/${d.id}/sync-config`).expect(404);
    const res = await putConfig(d.id, BASE_CONFIG, 200);
    assert.equal(res.body.frequency, 'daily');
    assert.equal(res.body.startDate, '2026-01-05');
    assert.equal(res.body.errorThresholdPct, -1);
    assert.equal(res.body.external, null);
    const got = await h.api().get(`/districts/${d.id}/sync-config`).expect(200);
    assert.deepEqual(got.body, res.body);
    const description = await h.temporal.client.workflow.getHandle(`district-sync:${d.id}`).describe();
    assert.equal(description.status.name, 'RUNNING');
  });

  it('names each invalid field and how to fix it', async () => {
    const d = await createDistrict(h);
    const res = await putConfig(
      d.id,
      {
        ...BASE_CONFIG,
        frequency: 'hourly',
        startDate: '2026-02-30',
        timeOfDay: '25:00',
        fileRule: 'specific_name',
        errorThresholdPct: 150,
        notifyEmails: ['not-an-email'],
        coachingGroups: ['everyone'],
      },
      400,
    );
    const msg = res.body.message as string;
    assert.match(msg, /frequency:/);
    assert.match(msg, /startDate: startDate is not a real calendar date/);
    assert.match(msg, /timeOfDay: timeOfDay must be a 24-hour local time written HH:MM/);
    assert.match(msg, /errorThresholdPct: errorThresholdPct must be -1 \(disabled\) or between 0 and 100/);
    assert.match(msg, /notifyEmails\.0: notifyEmails must contain email addresses/);
    assert.match(msg, /coachingGroups\.0:/);
    const noName = await putConfig(d.id, { ...BASE_CONFIG, fileRule: 'specific_name' }, 400);
    assert.match(noName.body.message, /fileName: fileName is required when fileRule is "specific_name"/);
    // Each safeguard limit can be turned off with -1, and only with -1.
    const off = await putConfig(
      d.id,
      { ...BASE_CONFIG, maxArchivePct: -1, maxArchiveCount: -1, maxRowDropPct: -1 },
      200,
    );
    assert.deepEqual(
      [off.body.maxArchivePct, off.body.maxArchiveCount, off.body.maxRowDropPct],
      [-1, -1, -1],
    );
    const below = await putConfig(d.id, { ...BASE_CONFIG, maxArchivePct: -5, maxArchiveCount: -2 }, 400);
    assert.match(
      below.body.message,
      /maxArchivePct: maxArchivePct must be -1 \(disabled\) or between 0 and 100/,
    );
    assert.match(below.body.message, /maxArchiveCount: maxArchiveCount must be -1 \(disabled\)/);
    const noExternal = await putConfig(d.id, { ...BASE_CONFIG, source: 'external' }, 400);
    assert.match(noExternal.body.message, /external: external is required when source is "external"/);
    const noSecret = await putConfig(
      d.id,
      {
        ...BASE_CONFIG,
        source: 'external',
        external: {
          host: 'sftp.district.example',
          username: 'exports',
          hostKeyFingerprint: FINGERPRINT,
          path: '/out',
        },
      },
      400,
    );
    assert.match(noSecret.body.message, /external.password or external.privateKey is required/);
  });

  it('encrypts external credentials at rest and never returns them', async () => {
    const d = await createDistrict(h);
    const password = 'Sup3r-secret-district-pass';
    const body = {
      ...BASE_CONFIG,
      source: 'external',
      external: {
        host: 'sftp.district.example',
        port: 2222,
        username: 'exports',
        password,
        hostKeyFingerprint: FINGERPRINT,
        path: '/exports/roster',
      },
    };
    const res = await putConfig(d.id, body, 200);
    assert.deepEqual(res.body.external, {
      host: 'sftp.district.example',
      port: 2222,
      username: 'exports',
      hostKeyFingerprint: FINGERPRINT,
      path: '/exports/roster',
      hasPassword: true,
      hasPrivateKey: false,
    });
    const { rows } = await h.db.pool.query<{ external_password_enc: string }>(
      'SELECT external_password_enc FROM sync_configs WHERE district_id = $1',
      [d.id],
    );
    const stored = rows[0].external_password_enc;
    assert.ok(!stored.includes(password), 'not stored in plaintext');
    assert.equal(decryptSecret(h.env.SECRET_KEY, stored), password);
    const got = await h.api().get(`/districts/${d.id}/sync-config`).expect(200);
    for (const text of [res.text, got.text]) {
      assert.ok(!text.includes(password), 'plaintext never returned');
      assert.ok(!text.includes(stored), 'ciphertext never returned');
      assert.ok(!text.includes(stored.slice(3, 30)));
    }
    // Saving again without the password keeps the stored one; null removes it.
    const { password: _omit, ...withoutPassword } = body.external;
    const kept = await putConfig(d.id, { ...body, external: withoutPassword, enabled: false }, 200);
    assert.equal(kept.body.external.hasPassword, true);
    assert.equal(kept.body.enabled, false);
    const cleared = await putConfig(
      d.id,
      { ...body, external: { ...withoutPassword, password: null, privateKey: PRIVATE_KEY } },
      200,
    );
    assert.equal(cleared.body.external.hasPassword, false);
    assert.equal(cleared.body.external.hasPrivateKey, true);
    assert.ok(!cleared.text.includes('PRIVATE KEY'));
  });

  it('refuses at once an external host written as an address the worker never connects to', async () => {
    const d = await createDistrict(h);
    const external = {
      port: 22,
      username: 'exports',
      password: 'Pa55-word-here',
      hostKeyFingerprint: FINGERPRINT,
      path: '/exports',
    };
    const put = (host: string) =>
      h
        .api()
        .put(`/districts/${d.id}/sync-config`)
        .send({ ...BASE_CONFIG, source: 'external', external: { ...external, host } });
    const metadata = await put('169.254.169.254').expect(400);
    assert.match(
      metadata.body.message,
      /169\.254\.169\.254 is a link-local .* address, which the worker never connects to:/,
    );
    const loopback = await put('[::1]').expect(400);
    assert.match(
      loopback.body.message,
      /::1 is a loopback .* unless the server runs with EXTERNAL_SFTP_ALLOW_PRIVATE=true/,
    );
    await put('203.0.113.10').expect(200);
    await put('sftp.district.example').expect(200);
  });

  it('never carries a stored secret over to another server, login or host key', async () => {
    const d = await createDistrict(h);
    const external = {
      host: 'sftp.district.example',
      port: 22,
      username: 'exports',
      hostKeyFingerprint: FINGERPRINT,
      path: '/exports/roster',
    };
    const body = {
      ...BASE_CONFIG,
      source: 'external',
      external: { ...external, password: 'Kept-0nly-here' },
    };
    await putConfig(d.id, body, 200);
    const storedPassword = async (): Promise<string | null> => {
      const { rows } = await h.db.pool.query<{ external_password_enc: string | null }>(
        'SELECT external_password_enc FROM sync_configs WHERE district_id = $1',
        [d.id],
      );
      return rows[0].external_password_enc && decryptSecret(h.env.SECRET_KEY, rows[0].external_password_enc);
    };

    for (const moved of [
      { host: 'collector.attacker.example' },
      { port: 2222 },
      { username: 'someone-else' },
      { hostKeyFingerprint: 'SHA256:reBF4MSyp4m3PJOMI0dZgW/K7jYgNq5pUu2YSw/1lo4' },
    ]) {
      const res = await putConfig(d.id, { ...body, external: { ...external, ...moved } }, 400);
      assert.match(res.body.message, /required again: the host, port, username or host key changed/);
      assert.equal(await storedPassword(), 'Kept-0nly-here', 'a refused save changes nothing');
    }
    // The same server in another letter case, another folder on it, or its fingerprint pasted with
    // base64 padding keeps the secret; the fingerprint is stored as OpenSSH prints it.
    const padded = await putConfig(
      d.id,
      { ...body, external: { ...external, hostKeyFingerprint: `${FINGERPRINT}=` } },
      200,
    );
    assert.equal(padded.body.external.hostKeyFingerprint, FINGERPRINT);
    assert.equal(padded.body.external.hasPassword, true);
    const kept = await putConfig(
      d.id,
      { ...body, external: { ...external, host: 'SFTP.District.Example', path: '/exports/v2' } },
      200,
    );
    assert.equal(kept.body.external.hasPassword, true);
    // Moving to another server with a new secret is an ordinary save.
    await putConfig(
      d.id,
      { ...body, external: { ...external, host: 'sftp2.district.example', password: 'N3w-server' } },
      200,
    );
    assert.equal(await storedPassword(), 'N3w-server');
  });

  it('issues a hosted SFTP password once and stores only its hash', async () => {
    const d = await createDistrict(h);
    const keyDir = path.join(h.dataDir, 'sftp-host-keys');
    // Published as the SFTP server does at start: the API reads no key file.
    await new SftpHostKeysRepository(h.db.pool).publish(fingerprintsOf(await ensureHostKeys(keyDir)));
    const expected = await hostKeyFingerprints(keyDir);
    const res = await h.api().post(`/districts/${d.id}/sftp-credentials/password`).expect(200);
    assert.equal(res.body.username, d.slug);
    assert.equal(res.body.host, h.env.SFTP_PUBLIC_HOST);
    assert.equal(res.body.port, h.env.SFTP_PORT);
    assert.ok(typeof res.body.password === 'string' && res.body.password.length >= 16);
    assert.deepEqual(res.body.hostKeyFingerprints, expected);
    const { rows } = await h.db.pool.query<{ password_hash: string }>(
      'SELECT password_hash FROM sftp_accounts WHERE district_id = $1',
      [d.id],
    );
    assert.ok(!rows[0].password_hash.includes(res.body.password));
    const view = await h.api().get(`/districts/${d.id}/sftp-credentials`).expect(200);
    assert.equal(view.body.account.hasPassword, true);
    assert.equal(view.body.username, d.slug);
    assert.ok(!view.text.includes(res.body.password), 'the password is shown only once');
    assert.ok(!view.text.includes(rows[0].password_hash), 'the hash never leaves the database');
    assert.ok(!res.text.includes(rows[0].password_hash));
    // A new password replaces the old one.
    const again = await h.api().post(`/districts/${d.id}/sftp-credentials/password`).expect(200);
    assert.notEqual(again.body.password, res.body.password);
  });

  it('adds, lists and removes public keys; rejects what is not a public key', async () => {
    const d = await createDistrict(h);
    const line = ed25519PublicKeyLine('it@district');
    const added = await h
      .api()
      .post(`/districts/${d.id}/sftp-credentials/keys`)
      .send({ publicKey: line })
      .expect(201);
    assert.equal(added.body.algorithm, 'ssh-ed25519');
    assert.match(added.body.fingerprint, /^SHA256:/);
    assert.equal(added.body.comment, 'it@district');
    const view = await h.api().get(`/districts/${d.id}/sftp-credentials`).expect(200);
    assert.deepEqual(
      (view.body.publicKeys as Array<{ id: string }>).map((k) => k.id),
      [added.body.id],
    );
    const bad = await h
      .api()
      .post(`/districts/${d.id}/sftp-credentials/keys`)
      .send({ publicKey: '-----BEGIN OPENSSH PRIVATE KEY----- abc' })
      .expect(400);
    assert.ok(bad.body.message.length > 20, 'says what to paste instead');
    // Another district cannot remove this district's key.
    const other = await createDistrict(h);
    await h.api().delete(`/districts/${other.id}/sftp-credentials/keys/${added.body.id}`).expect(404);
    await h.api().delete(`/districts/${d.id}/sftp-credentials/keys/${added.body.id}`).expect(204);
    await h.api().delete(`/districts/${d.id}/sftp-credentials/keys/${added.body.id}`).expect(404);
  });

  // Runs last: every response this file received, against every secret the database holds.
  it('never returned a stored secret in any response', async () => {
    const { rows } = await h.db.pool.query<{ secret: string }>(
      `SELECT password_hash AS secret FROM sftp_accounts WHERE password_hash IS NOT NULL
       UNION ALL SELECT external_password_enc FROM sync_configs WHERE external_password_enc IS NOT NULL
       UNION ALL SELECT external_key_enc FROM sync_configs WHERE external_key_enc IS NOT NULL`,
    );
    assert.ok(rows.length >= 2, 'the tests above stored secrets');
    assert.ok(h.responses.length > 20);
    for (const { secret } of rows)
      for (const text of h.responses)
        assert.ok(!text.includes(secret), 'a stored secret appeared in a response');
  });
});
