import crypto from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) for credentials we must be able to read back, such as the
 * password of a district's own SFTP server. Hosted SFTP passwords are hashed instead: we never need
 * them again. A blob is `v1:<base64(iv | tag | ciphertext)>`; the version prefix leaves room to rotate
 * the scheme without guessing what an old value is.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

/** Accepts 32 bytes as hex (64 characters) or base64 (44 characters); anything else fails fast at boot. */
export function parseSecretKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === 32) return key;
  }
  throw new SecretKeyError(
    'SECRET_KEY must be 32 random bytes as hex (64 characters) or base64 (44 characters); generate one with `openssl rand -hex 32`.',
  );
}

function toKey(key: Buffer | string): Buffer {
  const buffer = typeof key === 'string' ? parseSecretKey(key) : key;
  if (buffer.length !== 32) throw new SecretKeyError('The secret key must be exactly 32 bytes.');
  return buffer;
}

export function encryptSecret(key: Buffer | string, plaintext: string): string {
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', toKey(key), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64')}`;
}

export function decryptSecret(key: Buffer | string, blob: string): string {
  const [version, body] = blob.split(':', 2);
  if (version !== VERSION || !body) throw new SecretKeyError('Not an encrypted secret (unknown format).');
  const raw = Buffer.from(body, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretKeyError('Encrypted secret is truncated.');
  const decipher = crypto.createDecipheriv('aes-256-gcm', toKey(key), raw.subarray(0, IV_BYTES));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    // GCM's tag check failed: wrong SECRET_KEY or a tampered value. Never echo the blob.
    throw new SecretKeyError(
      'Cannot decrypt secret: SECRET_KEY differs from the one that encrypted it, or the value was altered.',
    );
  }
}
