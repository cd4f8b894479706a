import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { decryptSecret, encryptSecret, parseSecretKey } from '../../../lib/crypto/secret-box';

describe('secret box (credentials of districts’ own SFTP servers, at rest)', () => {
  const hexKey = crypto.randomBytes(32).toString('hex');

  it('round-trips with a hex or a base64 key, with a fresh IV every time', () => {
    const b64Key = Buffer.from(hexKey, 'hex').toString('base64');
    const a = encryptSecret(hexKey, 'pa55 wörd');
    const b = encryptSecret(hexKey, 'pa55 wörd');
    assert.notEqual(a, b, 'same plaintext, different ciphertext');
    assert.match(a, /^v1:[A-Za-z0-9+/=]+$/);
    assert.ok(!a.includes('pa55'));
    assert.equal(decryptSecret(hexKey, a), 'pa55 wörd');
    assert.equal(decryptSecret(b64Key, a), 'pa55 wörd', 'hex and base64 spell the same key');
  });

  it('refuses a wrong key or a tampered value without echoing it', () => {
    const blob = encryptSecret(hexKey, 'secret');
    const other = crypto.randomBytes(32).toString('hex');
    assert.throws(() => decryptSecret(other, blob), /SECRET_KEY differs/);
    const raw = Buffer.from(blob.slice(3), 'base64');
    raw[raw.length - 1] ^= 1;
    const tampered = `v1:${raw.toString('base64')}`;
    assert.throws(
      () => decryptSecret(hexKey, tampered),
      (err: Error) => /altered/.test(err.message) && !err.message.includes(tampered),
    );
    assert.throws(() => decryptSecret(hexKey, 'plaintext'), /unknown format/);
  });

  it('accepts only 32-byte keys and says how to make one', () => {
    assert.equal(parseSecretKey(hexKey).length, 32);
    assert.throws(() => parseSecretKey('k'.repeat(64)), /openssl rand -hex 32/);
    assert.throws(() => parseSecretKey(crypto.randomBytes(16).toString('hex')), /32 random bytes/);
  });
});
