import crypto from 'node:crypto';
import { utils } from 'ssh2';

/**
 * Validation of the one-line OpenSSH public keys districts paste in (`ssh-ed25519 AAAA... comment`):
 * only algorithms that are still safe, RSA only from 2048 bits, and the OpenSSH-style fingerprint
 * (`SHA256:<base64 without padding>`) that `ssh-keygen -lf` prints, so an admin can compare them.
 */

export const ACCEPTED_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;
export const MIN_RSA_BITS = 2048;

export const ACCEPTED_KEYS_HINT =
  'Paste one OpenSSH public key line (the contents of id_ed25519.pub, for example ' +
  '"ssh-ed25519 AAAAC3Nza... you@host"). Accepted: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ' +
  `or ssh-rsa of at least ${MIN_RSA_BITS} bits. Never paste a private key.`;

export class InvalidPublicKeyError extends Error {
  override readonly name = 'InvalidPublicKeyError';
}

export interface ParsedPublicKey {
  algorithm: string;
  /** The SSH wire-format key blob (what clients present at login). */
  blob: Buffer;
  /** Canonical `type base64` line, without the comment. */
  canonical: string;
  fingerprint: string;
  comment: string | null;
  bits?: number;
}

/** OpenSSH fingerprint of a key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Bit length of the RSA modulus in an `ssh-rsa` blob: string type, mpint e, mpint n. */
function rsaModulusBits(blob: Buffer): number {
  let pos = 0;
  const next = (): Buffer => {
    const len = blob.readUInt32BE(pos);
    const value = blob.subarray(pos + 4, pos + 4 + len);
    pos += 4 + len;
    return value;
  };
  next(); // type
  next(); // e
  const n = next();
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]));
}

export function parsePublicKey(input: string): ParsedPublicKey {
  const line = input.trim();
  if (line === '') throw new InvalidPublicKeyError(`The public key is empty. ${ACCEPTED_KEYS_HINT}`);
  if (/PRIVATE KEY/.test(line)) {
    throw new InvalidPublicKeyError(
      `This is a private key; keep it secret and paste the matching .pub file instead. ${ACCEPTED_KEYS_HINT}`,
    );
  }
  if (/[\r\n]/.test(line))
    throw new InvalidPublicKeyError(`Paste exactly one key line. ${ACCEPTED_KEYS_HINT}`);
  const [type, data, ...rest] = line.split(/\s+/);
  if (!(ACCEPTED_KEY_TYPES as readonly string[]).includes(type)) {
    throw new InvalidPublicKeyError(`Key type "${type.slice(0, 40)}" is not accepted. ${ACCEPTED_KEYS_HINT}`);
  }
  const parsed = utils.parseKey(`${type} ${data ?? ''}`);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.type !== type) {
    throw new InvalidPublicKeyError(`The key data is not a valid ${type} key. ${ACCEPTED_KEYS_HINT}`);
  }
  const blob = parsed.getPublicSSH();
  let bits: number | undefined;
  if (type === 'ssh-rsa') {
    bits = rsaModulusBits(blob);
    if (bits < MIN_RSA_BITS) {
      throw new InvalidPublicKeyError(
        `This RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required (ssh-keygen -t ed25519 is recommended). ${ACCEPTED_KEYS_HINT}`,
      );
    }
  }
  const comment = rest.join(' ').trim();
  return {
    algorithm: type,
    blob,
    canonical: `${type} ${blob.toString('base64')}`,
    fingerprint: fingerprintOf(blob),
    comment: comment === '' ? null : comment.slice(0, 200),
    bits,
  };
}
