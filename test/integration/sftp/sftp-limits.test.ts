import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type District, type Harness, connectSsh2, p, startHarness } from './sftp-harness';

describe('hosted SFTP: session limits and logs', () => {
  let h: Harness;
  let district: District;
  let password: string;

  before(async () => {
    h = await startHarness({ maxSessionsPerAccount: 2, idleTimeoutMs: 1500 });
    district = await h.addDistrict('elm-creek');
    password = await h.accounts.regeneratePassword(district.id, district.slug);
  });
  after(async () => {
    await h.close();
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
