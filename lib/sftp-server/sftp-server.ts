import fs from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { type Connection, Server } from 'ssh2';
import { ensureHostKeys, fingerprintsOf } from './host-keys';
import { OpenUploadRecords } from './open-upload-records';
import { PreLoginConnections } from './pre-login-connections';
import type { SftpLimits } from './sftp-config';
import type { SftpLoginAccount } from './sftp-accounts.repository';
import { SftpChannels } from './sftp-channels';
import { SftpHostKeysRepository } from './sftp-host-keys.repository';
import { SftpLogin } from './sftp-login';
import { type OnUploadComplete, UploadCompletion } from './upload-completion';

/**
 * The hosted SFTP server: SSH transport and login (password or public key, with lockout), one
 * jailed folder per district, SFTP only (no shell, exec or forwarding), and upload-completion
 * callbacks. Listens wherever it is told; apps/sftp decides (loopback by default).
 *
 * Logins are bounded so guessing cannot starve the districts' transfers (sftp-login.ts), and each
 * address may hold only a few connections that have not logged in (pre-login-connections.ts).
 */

export interface SftpServerOptions {
  pool: Pool;
  /** Folder holding one sub-folder per account (`<root>/<username>/`). */
  root: string;
  hostKeysDir: string;
  config: SftpLimits;
  log: Logger;
  onUploadComplete: OnUploadComplete;
}

export interface SftpServer {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Ciphers offered. AES-GCM first (one pass, hardware AES through OpenSSL); CTR for older GUI clients.
 * chacha20-poly1305 is left out: clients prefer it, and without AES it is the slower path here.
 */
const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
] as const;

export function createSftpServer(opts: SftpServerOptions): SftpServer {
  const { config, log } = opts;
  const login = new SftpLogin(opts.pool, config);
  const openUploads = new OpenUploadRecords(opts.pool, log);
  const completion = new UploadCompletion({
    quietMs: config.quietMs,
    log,
    onUploadComplete: opts.onUploadComplete,
    openUploads,
  });
  const channels = new SftpChannels({ root: opts.root, config, completion });
  const connections = new Set<Connection>();
  const preLogin = new PreLoginConnections(config, log);
  let tcpServer: net.Server | undefined;

  function onConnection(client: Connection, info: { ip: string; port: number }): void {
    const address = info.ip;
    const connLog = log.child({ client: address });
    connections.add(client);
    // Upload replies are tiny status packets; with Nagle's algorithm they wait for the client's delayed
    // ACKs and uploads ran at a third of sshd's speed. ssh2 has the method; its typings lack it.
    (client as Connection & { setNoDelay(on: boolean): void }).setNoDelay(true);
    let account: SftpLoginAccount | undefined;
    let idle: NodeJS.Timeout | undefined;
    const arm = (ms: number, why: string): void => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        connLog.info({ district: account?.districtId, username: account?.username }, why);
        client.end();
      }, ms);
      idle.unref();
    };

    let closed = false;
    client.on('authentication', (ctx) =>
      login.answer(ctx, {
        address,
        log: connLog,
        isClosed: () => closed,
        loggedIn: (accepted) => {
          account = accepted;
        },
      }),
    );

    client.on('ready', () => {
      if (!account) return void client.end();
      preLogin.loggedIn(address, info.port);
      const acct = account;
      const sessionLog = connLog.child({ district: acct.districtId, username: acct.username });
      sessionLog.info('login');
      const touch = (): void => arm(config.idleTimeoutMs, 'connection closed: idle timeout');
      touch();

      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp, rejectSftp) =>
          channels.open(client, acct, sessionLog, touch, acceptSftp, rejectSftp),
        );
        // SFTP only: no shell, no commands, no terminals.
        session.on('exec', (_accept, reject) => reject());
        session.on('shell', (_accept, reject) => reject());
        session.on('pty', (_accept, reject) => reject?.());
        session.on('subsystem', (_accept, reject) => reject());
      });
      client.on('tcpip', (_accept, reject) => reject());
      client.on('openssh.streamlocal', (_accept, reject) => reject());
      client.on('request', (_accept, reject) => reject?.());
    });

    client.on('error', (err) => connLog.debug({ err: err.message }, 'connection error'));
    client.on('close', () => {
      closed = true;
      if (idle) clearTimeout(idle);
      connections.delete(client);
      if (account) connLog.info({ district: account.districtId, username: account.username }, 'logout');
    });
  }

  return {
    async listen(port: number, host: string): Promise<number> {
      const hostKeys = await ensureHostKeys(opts.hostKeysDir);
      // What the API shows districts to compare on first connect.
      await new SftpHostKeysRepository(opts.pool).publish(fingerprintsOf(hostKeys));
      await fs.mkdir(opts.root, { recursive: true, mode: 0o700 });
      const ssh = new Server(
        {
          hostKeys,
          ident: 'rostersync',
          algorithms: { cipher: [...CIPHERS] },
          keepaliveInterval: 30_000,
          keepaliveCountMax: 4,
        },
        onConnection,
      );
      const listening = net.createServer((socket) => preLogin.admit(socket, ssh));
      tcpServer = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, host, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      listening.on('error', (err: Error) => log.error({ err }, 'sftp server error'));
      const actual = (listening.address() as AddressInfo).port;
      log.info({ host, port: actual }, 'sftp server listening');
      return actual;
    },

    async close(): Promise<void> {
      const listening = tcpServer;
      const closing = listening
        ? new Promise<void>((resolve) => listening.close(() => resolve()))
        : Promise.resolve();
      for (const client of connections) client.end();
      preLogin.destroyAll();
      await closing;
      await completion.close();
      await openUploads.close();
    },
  };
}
