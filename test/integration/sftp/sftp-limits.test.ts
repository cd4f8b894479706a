import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { type District, connectSsh2, p, useSftpServer } from './sftp-harness';

describe('hosted SFTP: session limits and logs', () => {
  const h = useSftpServer({ maxSessionsPerAccount: 2, idleTimeoutMs: 1500 });
  let district: District;
  let password: string;

  before(async () => {
    ({ district, password } = await h.addPasswordDistrict('elm-creek'));
  });

  it('refuses a session beyond SFTP_MAX_SESSIONS_PER_ACCOUNT and accepts one again when a session ends', async () => {
    const login = () => connectSsh2({ port: h.port, username: district.slug, password });
    const first = await login();
    const second = await login();
    await assert.rejects(login(), /Unable to start subsystem: sftp/);
    const firstClosed = new Promise<void>((resolve) => first.client.once('close', () => resolve()));
    first.end();
    await firstClosed;
    const third = await login();
    third.end();
    second.end();
  });

  it('closes a connection idle for longer than SFTP_IDLE_TIMEOUT_SECONDS', async () => {
    // Measured from before the login: the server's idle clock starts at the session's last request,
    // which is never earlier than this, however slowly a loaded machine completes the login.
    const started = Date.now();
    const session = await connectSsh2({ port: h.port, username: district.slug, password });
    const closed = new Promise<number>((resolve) => {
      session.client.once('close', () => resolve(Date.now() - started));
    });
    const afterMs = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
    assert.ok(afterMs >= 0, 'the idle connection was not closed');
    assert.ok(afterMs >= 1500, `closed after ${afterMs} ms, before the idle timeout`);
    assert.match(fs.readFileSync(h.logFile, 'utf8'), /connection closed: idle timeout/);
  });

  it('logs district, client address, operation and bytes for transfers, and never the password', async () => {
    const session = await connectSsh2({ port: h.port, username: district.slug, password });
    await p.writeFile(session.sftp, '/upload/users.csv', 'email\na@x.org\n');
    await p.readFile(session.sftp, '/upload/users.csv');
    session.end();
    await new Promise((r) => setTimeout(r, 200));
    const lines = fs
      .readFileSync(h.logFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const upload = lines.find((l) => l.op === 'upload' && l.path === '/upload/users.csv');
    assert.deepEqual(
      {
        district: upload?.district,
        username: upload?.username,
        client: upload?.client,
        bytes: upload?.bytes,
      },
      { district: district.id, username: district.slug, client: '127.0.0.1', bytes: 14 },
    );
    const download = lines.find((l) => l.op === 'download' && l.path === '/upload/users.csv');
    assert.equal(download?.bytes, 14);
    assert.equal(download?.district, district.id);
    assert.ok(!fs.readFileSync(h.logFile, 'utf8').includes(password), 'the password must never be logged');
  });
});

describe('hosted SFTP: a client that stops taking replies', () => {
  const MiB = 1024 * 1024;
  const READ = 32 * 1024;
  const h = useSftpServer({ maxQueuedReplyBytes: MiB });
  let district: District;
  let password: string;
  let content: Buffer;

  const readAt = (sftp: SFTPWrapper, handle: Buffer, position: number) =>
    new Promise<Buffer>((resolve, reject) =>
      sftp.read(handle, Buffer.alloc(READ), 0, READ, position, (err, n, buf) =>
        err ? reject(err) : resolve(buf.subarray(0, n)),
      ),
    );
  /** Sends a READ for every block of the file while the client's socket is not read. */
  const readWholeFileWithoutTakingReplies = async () => {
    const session = await connectSsh2({ port: h.port, username: district.slug, password });
    const handle = await p.open(session.sftp, '/upload/big.bin', 'r');
    const socket = (session.client as unknown as { _sock: net.Socket })._sock;
    socket.pause();
    const reads: Array<Promise<Buffer>> = [];
    for (let at = 0; at < content.length; at += READ) reads.push(readAt(session.sftp, handle, at));
    for (const read of reads) read.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    return { socket, reads };
  };

  before(async () => {
    ({ district, password } = await h.addPasswordDistrict('aspen-fork'));
    content = crypto.randomBytes(16 * MiB);
    fs.mkdirSync(path.join(h.root, district.slug, 'upload'), { recursive: true });
    fs.writeFileSync(path.join(h.root, district.slug, 'upload', 'big.bin'), content);
  });

  it('reads no further ahead than its SSH window and the reply limit, then serves every byte once it reads again', async () => {
    const stalled = await readWholeFileWithoutTakingReplies();
    stalled.socket.destroy();
    let served: number | undefined;
    for (let waited = 0; served === undefined && waited < 5000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      served = fs
        .readFileSync(h.logFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { op?: string; path?: string; bytes?: number })
        .find((l) => l.op === 'download' && l.path === '/upload/big.bin')?.bytes;
    }
    assert.ok(served !== undefined, 'the abandoned download was not logged');
    // 2 MiB of SSH window (ssh2's client) and 1 MiB of replies held, plus one read in progress.
    assert.ok(
      served <= 3 * MiB + 256 * 1024,
      `${served} of ${content.length} bytes read for a client taking none`,
    );

    const resumed = await readWholeFileWithoutTakingReplies();
    resumed.socket.resume();
    assert.ok(
      Buffer.concat(await Promise.all(resumed.reads)).equals(content),
      'content differs after the stall',
    );
    resumed.socket.destroy();
  });
});
