import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Client, type OpenMode, type SFTPWrapper } from 'ssh2';
import { type SftpServer, createSftpServer } from '../../../lib/sftp-server/sftp-server';
import { SftpAccountsRepository } from '../../../lib/sftp-server/sftp-accounts.repository';
import { type SftpLimits, loadSftpConfig } from '../../../lib/sftp-server/sftp-config';
import type { UploadCompleteEvent } from '../../../lib/sftp-server/upload-completion';
import { type TestDatabase, createTestDatabase } from '../../support/postgres';
import { seedDistrict } from '../../support/seed';
import { useForSuite } from '../../support/suite';
import { sftpClientArgs } from '../../support/ssh-keys';

/**
 * A real hosted SFTP server on a loopback port, over a fresh database and folder, plus the two
 * kinds of client districts use: OpenSSH's `sftp` in batch mode and the ssh2 client.
 */

export interface District {
  id: string;
  slug: string;
}

export type KeyPair = ReturnType<typeof makeKey>;
export type Ssh2Session = Awaited<ReturnType<typeof connectSsh2>>;

/** A district whose exporter logs in with its generated password. */
export interface PasswordLogin {
  district: District;
  password: string;
  /** An ssh2 session with the password. */
  session(): Promise<Ssh2Session>;
}

/** A district whose exporter logs in with a key of its own (OpenSSH's ssh-keygen). */
export interface KeyLogin {
  district: District;
  key: KeyPair;
  /** OpenSSH's `sftp -b -` with the key, run in the harness's local folder. */
  sftp(commands: string[]): Promise<SftpRun>;
  /** An ssh2 session with the key. */
  session(): Promise<Ssh2Session>;
}

export interface Harness {
  db: TestDatabase;
  accounts: SftpAccountsRepository;
  server: SftpServer;
  port: number;
  root: string;
  hostKeysDir: string;
  events: UploadCompleteEvent[];
  logFile: string;
  /** A folder on the client's side for the files a test uploads and downloads. */
  local: string;
  addDistrict(slug: string): Promise<District>;
  addPasswordDistrict(slug: string): Promise<PasswordLogin>;
  addKeyDistrict(slug: string): Promise<KeyLogin>;
  waitForEvent(
    predicate: (e: UploadCompleteEvent) => boolean,
    timeoutMs?: number,
  ): Promise<UploadCompleteEvent>;
  close(): Promise<void>;
}

export async function startHarness(overrides: Partial<SftpLimits> = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-sftp-'));
  const root = path.join(base, 'sftp');
  const hostKeysDir = path.join(base, 'host-keys');
  const logFile = path.join(base, 'sftp.log');
  const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const events: UploadCompleteEvent[] = [];
  const waiters: Array<() => void> = [];
  const config = { ...loadSftpConfig({}), quietMs: 300, ...overrides };
  const server = createSftpServer({
    pool: db.pool,
    root,
    hostKeysDir,
    config,
    log,
    onUploadComplete: (event) => {
      events.push(event);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const port = await server.listen(0, '127.0.0.1');
  const accounts = new SftpAccountsRepository(db.pool);
  const local = path.join(base, 'local');
  fs.mkdirSync(local);
  const keys: KeyPair[] = [];
  const addDistrict = (slug: string): Promise<District> =>
    seedDistrict(db.pool, { slug, name: `District ${slug}` });
  return {
    db,
    accounts,
    server,
    port,
    root,
    hostKeysDir,
    events,
    logFile,
    local,
    addDistrict,
    async addPasswordDistrict(slug) {
      const district = await addDistrict(slug);
      const password = await accounts.regeneratePassword(district.id, district.slug);
      return { district, password, session: () => connectSsh2({ port, username: slug, password }) };
    },
    async addKeyDistrict(slug) {
      const district = await addDistrict(slug);
      const key = makeKey();
      keys.push(key);
      await accounts.addPublicKey(district.id, key.publicKey);
      return {
        district,
        key,
        sftp: (commands) =>
          runSftp({ port, username: slug, keyPath: key.privateKeyPath, commands, cwd: local }),
        session: () => connectSsh2({ port, username: slug, privateKey: fs.readFileSync(key.privateKeyPath) }),
      };
    },
    async waitForEvent(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(predicate);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching upload-complete event; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async close() {
      await server.close();
      await db.drop();
      fs.rmSync(base, { recursive: true, force: true });
      for (const key of keys) fs.rmSync(key.dir, { recursive: true, force: true });
    },
  };
}

/** A server for the enclosing suite: started before its tests, closed after them. */
export function useSftpServer(overrides: Partial<SftpLimits> = {}): Harness {
  return useForSuite(
    () => startHarness(overrides),
    (h) => h.close(),
  );
}

/** A fresh ed25519 key pair from OpenSSH's ssh-keygen, as a district's exporter would make. */
export function makeKey(comment = 'nightly-export'): {
  privateKeyPath: string;
  publicKey: string;
  dir: string;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-key-'));
  const privateKeyPath = path.join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', privateKeyPath]);
  return { dir, privateKeyPath, publicKey: fs.readFileSync(`${privateKeyPath}.pub`, 'utf8').trim() };
}

export interface SftpRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * OpenSSH's `sftp -b -` with key login. Asynchronous on purpose: the server under test runs in this
 * process, so a synchronous child would block it. Batch mode stops at the first failing command
 * (prefix a command with `-` to go on).
 */
export function runSftp(opts: {
  port: number;
  username: string;
  keyPath: string;
  commands: string[];
  cwd?: string;
  extraArgs?: string[];
}): Promise<SftpRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('sftp', sftpClientArgs(opts), { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.commands.join('\n') + '\n');
  });
}

/** An ssh2 client session (as GUI clients and scripts drive the protocol), with promise helpers. */
export async function connectSsh2(opts: {
  port: number;
  username: string;
  password?: string;
  privateKey?: string | Buffer;
}): Promise<{ client: Client; sftp: SFTPWrapper; end(): void }> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: opts.port,
      username: opts.username,
      password: opts.password,
      privateKey: opts.privateKey,
      readyTimeout: 10_000,
      tryKeyboard: false,
    });
  });
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((err, s) => (err ? reject(err) : resolve(s))),
  );
  return { client, sftp, end: () => client.end() };
}

/** Runs `body` in a session `open` logs in, and ends the session after, whatever happens. */
export async function inSession(
  open: () => Promise<Ssh2Session>,
  body: (session: Ssh2Session) => Promise<void>,
): Promise<void> {
  const session = await open();
  try {
    await body(session);
  } finally {
    session.end();
  }
}

/** Resolves with the login error (ssh2 client), or throws if the login succeeded. */
export async function loginError(opts: {
  port: number;
  username: string;
  password?: string;
  privateKey?: string | Buffer;
}): Promise<Error> {
  try {
    const session = await connectSsh2(opts);
    session.end();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`login as ${opts.username} unexpectedly succeeded`);
}

export const p = {
  readdir: (sftp: SFTPWrapper, dir: string) =>
    new Promise<Array<{ filename: string; longname: string }>>((resolve, reject) =>
      sftp.readdir(dir, (err, list) => (err ? reject(err) : resolve(list))),
    ),
  writeFile: (sftp: SFTPWrapper, file: string, data: string | Buffer) =>
    new Promise<void>((resolve, reject) =>
      sftp.writeFile(file, data, (err) => (err ? reject(err) : resolve())),
    ),
  readFile: (sftp: SFTPWrapper, file: string) =>
    new Promise<Buffer>((resolve, reject) =>
      sftp.readFile(file, (err, data) => (err ? reject(err) : resolve(data))),
    ),
  rename: (sftp: SFTPWrapper, from: string, to: string) =>
    new Promise<void>((resolve, reject) => sftp.rename(from, to, (err) => (err ? reject(err) : resolve()))),
  mkdir: (sftp: SFTPWrapper, dir: string) =>
    new Promise<void>((resolve, reject) => sftp.mkdir(dir, (err) => (err ? reject(err) : resolve()))),
  stat: (sftp: SFTPWrapper, file: string) =>
    new Promise<{ size: number; mtime: number }>((resolve, reject) =>
      sftp.stat(file, (err, st) => (err ? reject(err) : resolve(st))),
    ),
  realpath: (sftp: SFTPWrapper, file: string) =>
    new Promise<string>((resolve, reject) =>
      sftp.realpath(file, (err, out) => (err ? reject(err) : resolve(out))),
    ),
  symlink: (sftp: SFTPWrapper, target: string, link: string) =>
    new Promise<void>((resolve, reject) =>
      sftp.symlink(target, link, (err) => (err ? reject(err) : resolve())),
    ),
  unlink: (sftp: SFTPWrapper, file: string) =>
    new Promise<void>((resolve, reject) => sftp.unlink(file, (err) => (err ? reject(err) : resolve()))),
  open: (sftp: SFTPWrapper, file: string, flags: OpenMode) =>
    new Promise<Buffer>((resolve, reject) =>
      sftp.open(file, flags, (err, h) => (err ? reject(err) : resolve(h))),
    ),
  close: (sftp: SFTPWrapper, handle: Buffer) =>
    new Promise<void>((resolve, reject) => sftp.close(handle, (err) => (err ? reject(err) : resolve()))),
  write: (sftp: SFTPWrapper, handle: Buffer, data: Buffer, position: number) =>
    new Promise<void>((resolve, reject) =>
      sftp.write(handle, data, 0, data.length, position, (err) => (err ? reject(err) : resolve())),
    ),
};
