import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type Connection, Server, type SFTPWrapper, utils } from 'ssh2';
import { encryptSecret } from '../../lib/crypto/secret-box';
import { openSshFingerprint } from '../../lib/files/external-sftp-source';

/**
 * A district's SFTP server misbehaving on purpose, for tests of how the worker contains it. It
 * serves one virtual file, `users.csv`, in whatever folder the client lists, and misbehaves by mode:
 *
 * - `stall-after-auth`: accepts the login, then never answers the sftp subsystem request;
 * - `stall-mid-read`: answers the listing, stat and open, then never answers a read;
 * - `trickle`: answers every read with `trickleBytes` bytes, once per `trickleIntervalMs`;
 * - `normal`: answers everything at once (a baseline for the test itself).
 *
 * Loopback only; the test stops it. SSH keepalives are answered in every mode, as a real stalling
 * server's SSH layer does: only the file protocol stalls.
 */
export type HostileMode = 'stall-after-auth' | 'stall-mid-read' | 'trickle' | 'normal';

export interface HostileSftpServerOptions {
  mode: HostileMode;
  /** Content of the served users.csv (default: a small roster of 64 KiB). */
  content?: Buffer;
  /** Bytes per read answer in `trickle` mode (default 1). */
  trickleBytes?: number;
  /** Pause before each read answer in `trickle` mode (default 1000 ms). */
  trickleIntervalMs?: number;
}

export interface HostileSftpServer {
  host: string;
  port: number;
  username: string;
  password: string;
  /** OpenSSH form, 'SHA256:base64', as a sync config stores it. */
  hostKeyFingerprint: string;
  /** SSH connections open now: 0 once the client has let go. */
  openConnections(): number;
  /** Connections ever accepted. */
  connectionCount(): number;
  /** Resolves when the number of open connections is 0 (at once if it already is). */
  allDisconnected(): Promise<void>;
  stop(): Promise<void>;
}

const { OPEN_MODE, STATUS_CODE } = utils.sftp;
const FILE_NAME = 'users.csv';
const FILE_HANDLE = Buffer.from('file');
const DIR_HANDLE = Buffer.from('dir');

const defaultContent = (): Buffer => {
  const lines = ['first_name,last_name,email,role'];
  for (let i = 0; lines.join('\n').length < 64 * 1024; i++)
    lines.push(`Pat${i},Lee${i},pat${i}@example.org,staff`);
  return Buffer.from(lines.join('\n') + '\n');
};

export async function startHostileSftpServer(opts: HostileSftpServerOptions): Promise<HostileSftpServer> {
  const content = opts.content ?? defaultContent();
  const username = 'district';
  const password = crypto.randomBytes(12).toString('hex');
  const hostKey = utils.generateKeyPairSync('ed25519');
  const parsedHostKey = utils.parseKey(hostKey.private);
  if (parsedHostKey instanceof Error) throw parsedHostKey;
  const hostKeyFingerprint = openSshFingerprint(parsedHostKey.getPublicSSH());
  const mtime = Math.floor(Date.now() / 1000) - 3600;
  const attrs = () => ({ mode: 0o100644, uid: 0, gid: 0, size: content.length, atime: mtime, mtime });

  const open = new Set<Connection>();
  let accepted = 0;
  const timers = new Set<NodeJS.Timeout>();
  let waiters: Array<() => void> = [];
  const settle = () => {
    if (open.size > 0) return;
    for (const w of waiters) w();
    waiters = [];
  };
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => (timers.delete(t), fn()), ms);
    timers.add(t);
  };

  function serve(sftp: SFTPWrapper): void {
    let listed = false;
    let closed = false;
    sftp.on('close', () => (closed = true));
    sftp.on('REALPATH', (id, p) =>
      sftp.name(id, [{ filename: p || '/', longname: p || '/', attrs: { ...attrs(), mode: 0o040755 } }]),
    );
    sftp.on('OPENDIR', (id) => sftp.handle(id, DIR_HANDLE));
    sftp.on('READDIR', (id) => {
      if (listed) return sftp.status(id, STATUS_CODE.EOF);
      listed = true;
      sftp.name(id, [{ filename: FILE_NAME, longname: FILE_NAME, attrs: attrs() }]);
    });
    const statFile = (id: number, p: string) =>
      p.endsWith(`/${FILE_NAME}`) || p === FILE_NAME
        ? sftp.attrs(id, attrs())
        : sftp.attrs(id, { ...attrs(), mode: 0o040755, size: 0 });
    sftp.on('STAT', statFile);
    sftp.on('LSTAT', statFile);
    sftp.on('FSTAT', (id) => sftp.attrs(id, attrs()));
    sftp.on('OPEN', (id, p, flags) => {
      if (flags & OPEN_MODE.WRITE) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED);
      if (!p.endsWith(FILE_NAME)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
      sftp.handle(id, FILE_HANDLE);
    });
    sftp.on('CLOSE', (id) => sftp.status(id, STATUS_CODE.OK));
    sftp.on('READ', (id, _handle, offset, length) => {
      if (opts.mode === 'stall-mid-read') return; // never answered
      if (offset >= content.length) return sftp.status(id, STATUS_CODE.EOF);
      if (opts.mode === 'trickle') {
        const n = Math.min(length, opts.trickleBytes ?? 1, content.length - offset);
        later(opts.trickleIntervalMs ?? 1000, () => {
          if (!closed) sftp.data(id, content.subarray(offset, offset + n));
        });
        return;
      }
      sftp.data(id, content.subarray(offset, offset + Math.min(length, content.length - offset)));
    });
  }

  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    accepted++;
    open.add(client);
    client.on('error', () => undefined);
    client.on('close', () => {
      open.delete(client);
      settle();
    });
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === username && ctx.password === password) ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          if (opts.mode === 'stall-after-auth') return; // the subsystem request is never answered
          serve(acceptSftp());
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    username,
    password,
    hostKeyFingerprint,
    openConnections: () => open.size,
    connectionCount: () => accepted,
    allDisconnected: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settle();
      }),
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const c of open) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The sync config columns of a district whose own SFTP server is `server`: users.csv by name in
 * /exports, the password encrypted at rest with `secretKey` and the host key pinned.
 */
export function hostileSourceConfig(server: HostileSftpServer, secretKey: string): Record<string, unknown> {
  return {
    source: 'external',
    file_rule: 'specific_name',
    file_name: FILE_NAME,
    external_host: server.host,
    external_port: server.port,
    external_username: server.username,
    external_password_enc: encryptSecret(secretKey, server.password),
    external_host_key: server.hostKeyFingerprint,
    external_path: '/exports',
  };
}
