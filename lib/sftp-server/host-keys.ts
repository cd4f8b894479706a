import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { utils } from 'ssh2';
import { fingerprintOf } from '../security/ssh-public-key';
import type { HostKeyFingerprint } from './sftp-host-keys.repository';

/**
 * The server's host keys: generated once on first start and kept, because districts' clients pin
 * them (a changed host key makes every scheduled export fail with a scary warning).
 */

const KEY_FILES = {
  ed25519: 'ssh_host_ed25519_key',
  rsa: 'ssh_host_rsa_key',
} as const;

function sshString(value: Buffer | string): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value) : value;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** An ed25519 private key in `openssh-key-v1` format (unencrypted), which ssh2 and ssh-keygen read. */
function ed25519OpenSshPem(comment: string): string {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = crypto.randomBytes(4);
  let priv = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    count,
    sshString(pubBlob),
    sshString(priv),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function rsaPem(): string {
  const { privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 3072,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function writeKey(file: string, pem: string): Promise<void> {
  // Write then rename, so a crash mid-write never leaves a half key that blocks the next start.
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, pem, { mode: 0o600 });
  await fs.rename(tmp, file);
}

/** Creates the missing host keys in `dir` and returns the private keys (PEM) to give ssh2's Server. */
export async function ensureHostKeys(dir: string): Promise<Buffer[]> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const ed = path.join(dir, KEY_FILES.ed25519);
  const rsa = path.join(dir, KEY_FILES.rsa);
  if (!(await exists(ed))) await writeKey(ed, ed25519OpenSshPem('rostersync-sftp'));
  if (!(await exists(rsa))) await writeKey(rsa, rsaPem());
  const keys = await Promise.all([fs.readFile(ed), fs.readFile(rsa)]);
  for (const [i, key] of keys.entries()) {
    const parsed = utils.parseKey(key);
    if (parsed instanceof Error || Array.isArray(parsed)) {
      const file = [ed, rsa][i];
      throw new Error(`Host key ${file} is unreadable (${String(parsed)}); delete it to generate a new one.`);
    }
  }
  return keys;
}

/** The host keys' fingerprints as OpenSSH prints them, for districts to check on first connect. */
export function fingerprintsOf(keys: readonly Buffer[]): HostKeyFingerprint[] {
  return keys.flatMap((pem) => {
    const parsed = utils.parseKey(pem);
    if (parsed instanceof Error || Array.isArray(parsed)) return [];
    return [{ algorithm: parsed.type, fingerprint: fingerprintOf(parsed.getPublicSSH()) }];
  });
}

/** The fingerprints of the host keys kept in `dir` (those there are). */
export async function hostKeyFingerprints(dir: string): Promise<HostKeyFingerprint[]> {
  const keys = await Promise.all(
    [KEY_FILES.ed25519, KEY_FILES.rsa].map((file) => fs.readFile(path.join(dir, file)).catch(() => null)),
  );
  return fingerprintsOf(keys.flatMap((key) => (key === null ? [] : [key])));
}

/** `type base64` public key lines, e.g. for a known_hosts entry. */
export async function hostPublicKeys(dir: string): Promise<string[]> {
  const keys = await ensureHostKeys(dir);
  return keys.flatMap((pem) => {
    const parsed = utils.parseKey(pem);
    if (parsed instanceof Error || Array.isArray(parsed)) return [];
    return [`${parsed.type} ${parsed.getPublicSSH().toString('base64')}`];
  });
}
