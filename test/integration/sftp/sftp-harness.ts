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
import { sftpClientArgs } from '../../support/ssh-keys';

/**
 * A real hosted SFTP server on a loopback port, over a fresh database and folder, plus the two
 * kinds of client districts use: OpenSSH's `sftp` in batch mode and the ssh2 client.
 */

export interface District {
  id: string;
  slug: string;
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
  addDistrict(slug: string): Promise<District>;
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
  return {
    db,
    accounts,
    server,
    port,
    root,
    hostKeysDir,
    events,
    logFile,
    async addDistrict(slug: string): Promise<District> {
      const { rows } = await db.pool.query<{ id: string }>(
        `INSERT INTO districts (name, slug, time_zone) VALUES ($1, $2, 'America/Chicago') RETURNING id`,
        [`District ${slug}`, slug],
      );
      return { id: rows[0].id, slug };
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
    },
  };
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
