import fs from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { type AuthContext, type Connection, Server, utils } from 'ssh2';
import { decoyHash, verifyPassword } from '../security/password';
import { AccountRegistry, type AccountUsage } from './account-usage';
import { ensureHostKeys, fingerprintsOf } from './host-keys';
import { Jail } from './jail-path';
import { LoginThrottle } from './login-throttle';
import { OpenUploadRecords } from './open-upload-records';
import { PasswordCheckGate } from './password-check-gate';
import type { SftpLimits } from './sftp-config';
import { type SftpLoginAccount, SftpAccountsRepository } from './sftp-accounts.repository';
import { SftpHostKeysRepository } from './sftp-host-keys.repository';
import { serveSftp } from './sftp-session';
import { type OnUploadComplete, UploadCompletion } from './upload-completion';
import { UPLOAD_DIR } from './upload-rules';

/**
 * The hosted SFTP server: SSH transport and login (password or public key, with lockout), one
 * jailed folder per district, SFTP only (no shell, exec or forwarding), and upload-completion
 * callbacks. Listens wherever it is told; apps/sftp decides (loopback by default).
 *
 * Logins are bounded so guessing cannot starve the districts' transfers: failures lock out a
 * username from an address and, for passwords, the address itself; password checks run a few at a
 * time server-wide; each address may hold only a few connections that have not logged in.
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

/** Same rule as districts.slug: anything else cannot be an account, so no query is made. */
const USERNAME = /^[a-z0-9][a-z0-9-]{1,62}$/;
const AUTH_METHODS: AuthContext['method'][] = ['publickey', 'password'];

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
  const accounts = new SftpAccountsRepository(opts.pool);
  const userThrottle = new LoginThrottle(
    config.maxFailedLogins,
    config.failedLoginWindowMs,
    config.lockoutMs,
  );
  const addressThrottle = new LoginThrottle(
    config.maxFailedLoginsPerAddress,
    config.failedLoginWindowMs,
    config.lockoutMs,
  );
  const passwordChecks = new PasswordCheckGate(config.maxPasswordChecks, config.maxQueuedPasswordChecks);
  const registry = new AccountRegistry(config.maxSessionsPerAccount);
  const openUploads = new OpenUploadRecords(opts.pool, log);
  const completion = new UploadCompletion({
    quietMs: config.quietMs,
    log,
    onUploadComplete: opts.onUploadComplete,
    openUploads,
  });
  const connections = new Set<Connection>();
  /** Per client address, TCP connections not logged in yet (counted from accept, before SSH starts). */
  const notLoggedIn = new Map<string, number>();
  /** By `address|port`: marks that connection as logged in, for the count above. */
  const markLoggedIn = new Map<string, () => void>();
  const preLoginSockets = new Set<net.Socket>();
  let tcpServer: net.Server | undefined;

  const accountDir = (username: string): string => path.join(opts.root, username);

  async function authenticate(
    ctx: AuthContext,
    address: string,
    connLog: Logger,
    isClosed: () => boolean,
    loggedIn: (account: SftpLoginAccount) => void,
  ): Promise<void> {
    const username = ctx.username;
    if (ctx.method !== 'password' && ctx.method !== 'publickey') {
      ctx.reject(AUTH_METHODS);
      return;
    }
    const userKey = `${username}\u0000${address}`;
    const userLockedMs = userThrottle.lockedFor(userKey);
    // An address locked out for guessing keeps its key logins: they cost no scrypt and cannot be guessed.
    const addressLockedMs = ctx.method === 'password' ? addressThrottle.lockedFor(address) : 0;
    if (userLockedMs > 0 || addressLockedMs > 0) {
      connLog.warn(
        {
          username,
          method: ctx.method,
          lockedSeconds: Math.ceil(Math.max(userLockedMs, addressLockedMs) / 1000),
          lockedFor: userLockedMs > 0 ? 'username and address' : 'address',
        },
        'login refused: locked out',
      );
      ctx.reject(AUTH_METHODS);
      return;
    }
    const account = USERNAME.test(username) ? await accounts.findByUsername(username) : undefined;
    const failed = (reason: string): void => {
      const lockedNow = userThrottle.recordFailure(userKey);
      const addressLockedNow = ctx.method === 'password' && addressThrottle.recordFailure(address);
      connLog.warn({ username, method: ctx.method, reason, lockedNow, addressLockedNow }, 'login failed');
      ctx.reject(AUTH_METHODS);
    };

    if (ctx.method === 'password') {
      const password = ctx.password;
      const hash = account?.passwordHash;
      let checked = false;
      const verdict = await passwordChecks.run(async () => {
        // A client that left while waiting for its turn gets no scrypt spent on it.
        if (isClosed()) return false;
        checked = true;
        if (hash) return await verifyPassword(password, hash);
        await verifyPassword(password, await decoyHash()); // same cost as a real check
        return false;
      });
      if (verdict !== 'busy' && !checked) return;
      if (verdict === 'busy') {
        connLog.warn(
          { username, method: ctx.method, limit: config.maxPasswordChecks },
          'login refused: too many password checks in progress (SFTP_MAX_PASSWORD_CHECKS)',
        );
        ctx.reject(AUTH_METHODS);
        return;
      }
      if (!verdict)
        return failed(!account ? 'unknown username' : !hash ? 'account has no password' : 'wrong password');
      userThrottle.recordSuccess(userKey);
      loggedIn(account as SftpLoginAccount); // before accept(): ssh2 emits 'ready' from inside it
      ctx.accept();
      return;
    }

    const presented = ctx.key.data;
    const match = account?.publicKeys.find((k) =>
      Buffer.from(k.publicKey.split(' ')[1] ?? '', 'base64').equals(presented),
    );
    if (!match) {
      // Clients offer every key they hold; an unlisted one is a normal probe, not an attack.
      if (ctx.signature) return failed('unknown key');
      ctx.reject(AUTH_METHODS);
      return;
    }
    if (!ctx.signature) {
      ctx.accept(); // "would this key do?" — the client signs next
      return;
    }
    const parsed = utils.parseKey(match.publicKey);
    if (parsed instanceof Error || Array.isArray(parsed)) return failed('stored key unreadable');
    // ssh2 does not verify the signature itself: without this check anyone knowing the public key could log in.
    if (parsed.verify(ctx.blob as Buffer, ctx.signature, ctx.hashAlgo) !== true)
      return failed('bad signature');
    userThrottle.recordSuccess(userKey);
    connLog.info({ username, key: match.fingerprint }, 'public key accepted');
    loggedIn(account as SftpLoginAccount);
    ctx.accept();
  }

  /**
   * Runs after the account's usage is measured: `/upload` is made again if the district removed it,
   * and counted as the entry it is, so removing and recreating it cannot wear the count down.
   */
  async function prepareFolder(username: string, usage: AccountUsage): Promise<Jail> {
    const dir = accountDir(username);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await usage.serverChange(async () => {
      try {
        await fs.mkdir(path.join(dir, UPLOAD_DIR), { mode: 0o700 });
        usage.entryAdded();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    });
    return await Jail.open(dir);
  }

  /** Every TCP connection starts here: the per-address cap and the login deadline apply before SSH does. */
  function admit(socket: net.Socket, ssh: Server): void {
    const address = socket.remoteAddress ?? '';
    const waiting = notLoggedIn.get(address) ?? 0;
    if (waiting >= config.maxUnauthenticatedPerAddress) {
      log.warn(
        { client: address, limit: config.maxUnauthenticatedPerAddress },
        'connection refused: too many connections from this address not logged in (SFTP_MAX_UNAUTHENTICATED_PER_ADDRESS)',
      );
      socket.destroy();
      return;
    }
    notLoggedIn.set(address, waiting + 1);
    preLoginSockets.add(socket);
    const id = `${address}|${socket.remotePort}`;
    const deadline = setTimeout(() => {
      log.info({ client: address }, 'connection closed: no login in time');
      socket.destroy();
    }, config.loginGraceMs);
    deadline.unref();
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      clearTimeout(deadline);
      preLoginSockets.delete(socket);
      markLoggedIn.delete(id);
      const left = (notLoggedIn.get(address) ?? 1) - 1;
      if (left > 0) notLoggedIn.set(address, left);
      else notLoggedIn.delete(address);
    };
    markLoggedIn.set(id, uncount);
    socket.once('close', uncount);
    ssh.injectSocket(socket);
  }

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
    client.on('authentication', (ctx) => {
      authenticate(
        ctx,
        address,
        connLog,
        () => closed,
        (accepted) => {
          account = accepted;
        },
      ).catch((err: unknown) => {
        connLog.error({ err, username: ctx.username }, 'login check failed');
        ctx.reject(AUTH_METHODS);
      });
    });

    client.on('ready', () => {
      if (!account) return void client.end();
      markLoggedIn.get(`${address}|${info.port}`)?.();
      const acct = account;
      const sessionLog = connLog.child({ district: acct.districtId, username: acct.username });
      sessionLog.info('login');
      const touch = (): void => arm(config.idleTimeoutMs, 'connection closed: idle timeout');
      touch();

      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp, rejectSftp) => {
          const usage = registry.acquire(acct.username, accountDir(acct.username));
          if (!usage) {
            sessionLog.warn(
              { limit: config.maxSessionsPerAccount },
              'sftp session refused: too many sessions for this account (SFTP_MAX_SESSIONS_PER_ACCOUNT)',
            );
            return void rejectSftp();
          }
          // Accept at once: the client's INIT follows immediately and would be lost on a channel not yet accepted.
          const sftp = acceptSftp();
          const prepare = usage.ready().then(async () => {
            const jail = await prepareFolder(acct.username, usage);
            return { districtId: acct.districtId, username: acct.username, jail, usage };
          });
          prepare.catch((err: unknown) => {
            sessionLog.error({ err }, 'sftp session could not start');
            sftp.end();
          });
          const served = serveSftp(sftp, { prepare, limits: config, log: sessionLog, completion, touch });
          // The account's usage is dropped (and measured afresh by its next session) only once this
          // session's files are closed and their quota settled.
          let released = false;
          const release = (): void => {
            if (released) return;
            released = true;
            void served.stop().then(() => registry.release(usage));
          };
          sftp.on('close', release);
          sftp.on('end', release);
          client.once('close', release);
        });
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
      const listening = net.createServer((socket) => admit(socket, ssh));
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
      for (const socket of preLoginSockets) socket.destroy();
      await closing;
      await completion.close();
      await openUploads.close();
    },
  };
}
