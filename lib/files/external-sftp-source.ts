import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { Client, type ConnectConfig, type SFTPWrapper, utils } from 'ssh2';
import { DomainError } from '../errors/domain-error';
import { checkHost, pinnedLookup, type Refusal } from './external-host-guard';
import type { DirEntry } from './pick-file';
import type { SourceWatch } from './source-watch';

/** Connection settings for a district's own SFTP server (secrets already decrypted). */
export interface ExternalSftpSettings {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
  /** OpenSSH-style 'SHA256:base64' fingerprint the server's host key must match. */
  hostKeyFingerprint: string;
  /** Folder on the server that plays the role of our hosted root; '.' is the login's home folder. */
  path: string;
}

/** Failures a person must fix: their `type` becomes the run's non-retryable failure type. */
export class ExternalSourceError extends DomainError {
  constructor(
    readonly type: 'AuthFailed' | 'HostKeyMismatch' | 'HostNotAllowed' | 'FileNotFound',
    message: string,
    detail?: Record<string, string>,
  ) {
    super(type, message, detail);
  }
}

export const openSshFingerprint = (key: Buffer): string =>
  `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

/** Configs saved before fingerprints were stored unpadded may carry a trailing '='. */
export const sameFingerprint = (seen: string, pinned: string): boolean => seen === pinned.replace(/=+$/, '');

/** Why the worker does not connect to `host`; names the host as configured, never the address it resolved to. */
export function hostNotAllowedMessage(host: string, refused: Refusal): string {
  const { address, kind, privateRange } = refused;
  const what = address === host ? `it is a ${kind} address` : `it resolves to a ${kind} address`;
  return privateRange
    ? `rostersync did not connect to ${host}: ${what}, and this worker connects only to public addresses. If the district's server is reached over a VPN or private link, set EXTERNAL_SFTP_ALLOW_PRIVATE=true on the worker; otherwise put the server's public host name in the sync config.`
    : `rostersync did not connect to ${host}: ${what}, which is never a district's SFTP server. Put the server's public host name in the sync config.`;
}

export type KeyProblem = { code: 'KEY_PASSPHRASE_WRONG' | 'PRIVATE_KEY_INVALID'; message: string };

/** Whether ssh2 can use the key with this passphrase; a problem says what the admin must change. */
export function privateKeyProblem(
  privateKey: string,
  passphrase: string | undefined,
): KeyProblem | undefined {
  const parsed = utils.parseKey(privateKey, passphrase);
  if (!(parsed instanceof Error)) return undefined;
  if (/passphrase/i.test(parsed.message))
    return {
      code: 'KEY_PASSPHRASE_WRONG',
      message: passphrase
        ? "The private key in the sync config cannot be unlocked with its passphrase: the passphrase is wrong. Set external.privateKeyPassphrase to the key's passphrase."
        : 'The private key in the sync config is protected by a passphrase, and none is set: give it in external.privateKeyPassphrase.',
    };
  return {
    code: 'PRIVATE_KEY_INVALID',
    message:
      'The private key in the sync config cannot be read (ssh2 supports OpenSSH, PEM RSA/ECDSA and Ed25519 keys). Paste the whole key file, BEGIN and END lines included.',
  };
}

/**
 * Connects after checking where the host name points (see external-host-guard), and only to the
 * addresses checked. The host key is still verified against the configured fingerprint.
 */
export async function connectExternal(
  settings: ExternalSftpSettings,
  opts: { allowPrivateAddresses: boolean; watch: SourceWatch },
): Promise<{ sftp: SFTPWrapper; close(): void }> {
  const { watch } = opts;
  const checked = await watch.request<Awaited<ReturnType<typeof checkHost>>>(
    `the DNS lookup of ${settings.host}`,
    (resolve, reject) => checkHost(settings.host, opts.allowPrivateAddresses).then(resolve, reject),
  );
  if ('refused' in checked) {
    // The district sees the host it configured, never the address it resolved to (one of ours).
    throw new ExternalSourceError('HostNotAllowed', hostNotAllowedMessage(settings.host, checked.refused), {
      host: settings.host,
      resolvedAddress: checked.refused.address,
    });
  }
  // ssh2 throws on a key it cannot read: a setting to fix, not network trouble to retry.
  const keyProblem = settings.privateKey && privateKeyProblem(settings.privateKey, settings.passphrase);
  if (keyProblem) throw new ExternalSourceError('AuthFailed', keyProblem.message);
  const client = new Client();
  let seenFingerprint: string | undefined;
  const config: ConnectConfig = {
    sock: net.connect({ host: settings.host, port: settings.port, lookup: pinnedLookup(checked.addresses) }),
    username: settings.username,
    password: settings.password,
    privateKey: settings.privateKey,
    passphrase: settings.passphrase,
    readyTimeout: watch.limits.operationMs,
    keepaliveInterval: 10_000,
    hostVerifier: (key: Buffer) => {
      seenFingerprint = openSshFingerprint(key);
      return sameFingerprint(seenFingerprint, settings.hostKeyFingerprint);
    },
  };
  // Whatever stops the watch (a stall, a timeout, cancellation) drops the connection at once.
  const close = () => client.destroy();
  watch.signal.addEventListener('abort', close, { once: true });
  await watch.request<void>('the SSH login', (resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (err: Error & { level?: string }) => {
      if (seenFingerprint && !sameFingerprint(seenFingerprint, settings.hostKeyFingerprint)) {
        reject(
          new ExternalSourceError(
            'HostKeyMismatch',
            `The server at ${settings.host}:${settings.port} presented host key ${seenFingerprint}, not the configured ${settings.hostKeyFingerprint}. If the district changed its server's key, update the fingerprint in the sync config; otherwise do not connect.`,
          ),
        );
      } else if (err.level === 'client-authentication') {
        reject(
          new ExternalSourceError(
            'AuthFailed',
            `The server at ${settings.host}:${settings.port} refused user '${settings.username}'. Check the username, password or private key in the sync config.`,
          ),
        );
      } else reject(err); // network trouble: retried with backoff
    });
    client.connect(config);
  });
  // A later error (a reset connection) would crash the worker unhandled; the pending SFTP requests
  // fail with it, or the watch stops them.
  client.on('error', () => undefined);
  const sftp = await watch
    .request<SFTPWrapper>('the request to open an SFTP session', (resolve, reject) =>
      client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    )
    .catch((err: unknown) => {
      close();
      throw err;
    });
  return {
    sftp,
    close: () => {
      watch.signal.removeEventListener('abort', close);
      close();
    },
  };
}

const MAX_ENTRIES = 10_000;
/** The whole listing may take this many operation timeouts (2 min by default). */
const LISTING_BUDGET_OPERATIONS = 6;
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;

/**
 * Lists the configured folder like the hosted one: root, upload/ and upload/<epoch>/. Reads each
 * folder a batch at a time through a handle and stops at MAX_ENTRIES, so a huge (or endless)
 * listing never sits in memory whole.
 */
export async function listExternalFolder(
  sftp: SFTPWrapper,
  root: string,
  watch: SourceWatch,
): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  const opendir = (dir: string) =>
    watch.request<Buffer | undefined>(`the request to open folder ${dir}`, (resolve, reject) =>
      sftp.opendir(dir, (err, handle) => {
        if (err && (err as Error & { code?: number }).code === SFTP_NO_SUCH_FILE) resolve(undefined);
        else if (err) reject(err);
        else resolve(handle);
      }),
    );
  const nextBatch = (dir: string, handle: Buffer) =>
    watch.request<Array<{ filename: string; attrs: { size: number; mtime: number; mode: number } }>>(
      `the request to list folder ${dir}`,
      (resolve, reject) =>
        sftp.readdir(handle, (err, list) => {
          if (err && (err as Error & { code?: number }).code === SFTP_EOF) resolve([]);
          else if (err) reject(err);
          else resolve(list);
        }),
    );
  async function walk(rel: string, depth: number): Promise<void> {
    const dir = rel ? `${root}/${rel}` : root;
    const handle = await opendir(dir);
    if (!handle) return;
    try {
      while (out.length < MAX_ENTRIES) {
        const batch = await nextBatch(dir, handle);
        if (batch.length === 0) return;
        for (const item of batch) {
          if (out.length >= MAX_ENTRIES) return;
          const type = item.attrs.mode & 0o170000;
          const isDirectory = type === 0o040000;
          if (!isDirectory && type !== 0o100000) continue;
          const relPath = rel ? `${rel}/${item.filename}` : item.filename;
          out.push({ path: relPath, isDirectory, size: item.attrs.size, mtimeMs: item.attrs.mtime * 1000 });
          if (isDirectory && depth < 2 && (depth === 1 || item.filename === 'upload'))
            await walk(relPath, depth + 1);
        }
      }
    } finally {
      // Not awaited: nothing depends on it, and the connection closes after the fetch anyway.
      sftp.close(handle, () => undefined);
    }
  }
  const budgetMs = watch.limits.operationMs * LISTING_BUDGET_OPERATIONS;
  await watch.within(
    `listing the folders`,
    budgetMs,
    `${LISTING_BUDGET_OPERATIONS} x FETCH_OPERATION_TIMEOUT_SECONDS`,
    () => walk('', 0),
  );
  return out;
}

const CHUNK_BYTES = 32 * 1024;

/**
 * Copies exactly `size` bytes, the size the listing gave (already checked against the limit):
 * no read asks for a byte past it, so whatever the server says in fstat or sends, the local file
 * never grows beyond it. A file that ends early or goes on past `size` changed since it was listed:
 * the error is retryable and the partial copy is removed. Up to `concurrency` reads are in flight.
 */
export async function downloadExternal(
  sftp: SFTPWrapper,
  remotePath: string,
  localPath: string,
  opts: { size: number; concurrency: number; watch: SourceWatch; onProgress?: (bytes: number) => void },
): Promise<void> {
  const { watch } = opts;
  // The local file first: if it cannot be created (disk full, permissions) no remote handle is left open.
  const local = await fs.promises.open(localPath, 'w');
  let remote: Buffer;
  try {
    remote = await watch.request<Buffer>(`the request to open ${remotePath}`, (resolve, reject) =>
      sftp.open(remotePath, 'r', (err, handle) => (err ? reject(err) : resolve(handle))),
    );
  } catch (err) {
    await local.close();
    await fs.promises.rm(localPath, { force: true });
    throw err;
  }
  // No timeout per read: the transfer watch fails a download that stops moving or crawls.
  const readAt = (buffer: Buffer, length: number, position: number) =>
    watch.settle<number>((resolve, reject) =>
      sftp.read(remote, buffer, 0, length, position, (err, bytesRead) =>
        err ? reject(err) : resolve(bytesRead),
      ),
    );
  let copiedBytes = 0;
  let next = 0;
  let failed = false;
  async function copyChunks(): Promise<void> {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    while (!failed && next < opts.size) {
      let position = next;
      const end = Math.min(position + CHUNK_BYTES, opts.size);
      next = end;
      while (position < end && !failed) {
        const bytesRead = await readAt(buffer, end - position, position);
        if (bytesRead === 0) {
          throw new Error(
            `${remotePath} ended before the ${opts.size} bytes the server listed (nothing at byte ${position}): it changed while downloading; retrying.`,
          );
        }
        await local.write(buffer, 0, bytesRead, position);
        position += bytesRead;
        copiedBytes += bytesRead;
        opts.onProgress?.(copiedBytes);
      }
    }
  }
  let copied = false;
  const stopWatching = watch.watchTransfer(remotePath, opts.size, () => copiedBytes);
  try {
    const results = await Promise.allSettled(
      Array.from({ length: opts.concurrency }, () =>
        copyChunks().catch((err: unknown) => {
          failed = true;
          throw err;
        }),
      ),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    stopWatching();
    const pastEnd = await watch.request<number>(`a read past the end of ${remotePath}`, (resolve, reject) =>
      sftp.read(remote, Buffer.alloc(1), 0, 1, opts.size, (err, bytesRead) =>
        err ? reject(err) : resolve(bytesRead),
      ),
    );
    if (pastEnd > 0) {
      throw new Error(
        `${remotePath} is longer than the ${opts.size} bytes the server listed: it changed while downloading; retrying.`,
      );
    }
    copied = true;
  } finally {
    stopWatching();
    await local.close();
    sftp.close(remote, () => undefined);
    if (!copied) await fs.promises.rm(localPath, { force: true });
  }
}
