import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type District, type KeyLogin, p, useSftpServer } from './sftp-harness';

const execFileP = promisify(execFile);
const sha256 = (file: string): string =>
  crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('hosted SFTP: files with OpenSSH sftp', () => {
  const h = useSftpServer({ quotaBytes: 40 * 1024 * 1024, maxFileBytes: 30 * 1024 * 1024, maxHandles: 4 });
  let district: District;
  let login: KeyLogin;
  let local: string;
  const sftp = (commands: string[]) => login.sftp(commands);

  before(async () => {
    login = await h.addKeyDistrict('pine-ridge');
    ({ district } = login);
    local = h.local;
  });

  it('uploads, lists in ls -l form and downloads byte-identical content', async () => {
    fs.writeFileSync(path.join(local, 'staff.bin'), crypto.randomBytes(5 * 1024 * 1024 + 123));
    const run = await sftp([
      'put staff.bin /upload/staff.bin',
      'ls -l /upload',
      'get /upload/staff.bin back.bin',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /-rw------- +1 pine-rid pine-rid +5243003 \w{3} [ \d]\d \d\d:\d\d .*staff\.bin/);
    assert.equal(sha256(path.join(local, 'back.bin')), sha256(path.join(local, 'staff.bin')));
    assert.equal(
      fs.statSync(path.join(h.root, district.slug, 'upload', 'staff.bin')).size,
      5 * 1024 * 1024 + 123,
    );
  });

  it('renames, including a temporary name onto an existing file (overwrite)', async () => {
    fs.writeFileSync(path.join(local, 'v1.csv'), 'email\na@x.org\n');
    fs.writeFileSync(path.join(local, 'v2.csv'), 'email\nb@x.org\nc@x.org\n');
    const run = await sftp([
      'put v1.csv /upload/users.csv',
      'put v2.csv /upload/users.csv.filepart',
      'rename /upload/users.csv.filepart /upload/users.csv',
      'get /upload/users.csv got.csv',
      'ls /upload',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(fs.readFileSync(path.join(local, 'got.csv'), 'utf8'), 'email\nb@x.org\nc@x.org\n');
    const listing = run.stdout.split('sftp> ls /upload\n')[1];
    assert.match(listing, /users\.csv/);
    assert.doesNotMatch(listing, /filepart/);
  });

  it('resumes interrupted uploads and downloads (reput, reget)', async () => {
    const full = crypto.randomBytes(3 * 1024 * 1024 + 7);
    fs.writeFileSync(path.join(local, 'roster.bin'), full);
    fs.writeFileSync(path.join(local, 'first-part.bin'), full.subarray(0, 1024 * 1024 + 5));
    let run = await sftp(['put first-part.bin /upload/roster.bin', 'reput roster.bin /upload/roster.bin']);
    assert.equal(run.code, 0, run.stderr);
    const remote = path.join(h.root, district.slug, 'upload', 'roster.bin');
    assert.equal(sha256(remote), sha256(path.join(local, 'roster.bin')));

    fs.writeFileSync(path.join(local, 'partial-get.bin'), full.subarray(0, 777_777));
    run = await sftp(['reget /upload/roster.bin partial-get.bin']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(path.join(local, 'partial-get.bin')), sha256(path.join(local, 'roster.bin')));
  });

  it('makes and removes folders and files, and keeps times with put -p', async () => {
    fs.writeFileSync(path.join(local, 'old.csv'), 'x\n');
    const when = new Date('2024-02-03T04:05:06Z');
    fs.utimesSync(path.join(local, 'old.csv'), when, when);
    const run = await sftp([
      'mkdir /archive',
      'cd /archive',
      'put -p old.csv',
      'ls -l',
      'rm old.csv',
      'cd /',
      'rmdir /archive',
      'ls /',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Feb {2}3 {2}2024 old\.csv/);
    assert.doesNotMatch(run.stdout.split('sftp> ls /').pop() ?? '', /archive/);
    assert.equal(fs.existsSync(path.join(h.root, district.slug, 'archive')), false);
  });

  it('refuses a file over the size limit and uploads beyond the quota, with a clear message', async () => {
    const session = await login.session();
    for (const entry of await p.readdir(session.sftp, '/upload')) {
      await p.unlink(session.sftp, `/upload/${entry.filename}`);
    }
    fs.writeFileSync(path.join(local, 'huge.bin'), Buffer.alloc(31 * 1024 * 1024, 1));
    const run = await sftp(['put huge.bin /upload/huge.bin']);
    assert.notEqual(run.code, 0, 'the client must report the refused upload');
    assert.match(run.stderr, /write remote "\/upload\/huge\.bin": Failure/);
    await p.unlink(session.sftp, '/upload/huge.bin');
    await assert.rejects(
      p.writeFile(session.sftp, '/upload/huge2.bin', Buffer.alloc(31 * 1024 * 1024, 1)),
      /File too large: the limit is 31457280 bytes per file \(SFTP_MAX_FILE_BYTES\)/,
    );
    await p.unlink(session.sftp, '/upload/huge2.bin');
    // 25 MiB fits once, not twice, in the 40 MiB quota.
    await p.writeFile(session.sftp, '/upload/a.bin', Buffer.alloc(25 * 1024 * 1024, 2));
    await assert.rejects(
      p.writeFile(session.sftp, '/upload/b.bin', Buffer.alloc(25 * 1024 * 1024, 3)),
      /Quota exceeded: your folder may hold 41943040 bytes \(SFTP_QUOTA_BYTES\)/,
    );
    // Freeing space makes room again.
    await p.unlink(session.sftp, '/upload/a.bin');
    await p.unlink(session.sftp, '/upload/b.bin');
    await p.writeFile(session.sftp, '/upload/b.bin', Buffer.alloc(25 * 1024 * 1024, 3));
    await p.unlink(session.sftp, '/upload/b.bin');
    session.end();
  });

  it('caps open handles per session', async () => {
    const session = await login.session();
    const handles: Buffer[] = [];
    for (let i = 0; i < 4; i++) handles.push(await p.open(session.sftp, `/upload/h${i}.tmp`, 'w'));
    await assert.rejects(
      p.open(session.sftp, '/upload/h4.tmp', 'w'),
      /Too many open files in this session \(limit 4\)/,
    );
    await p.close(session.sftp, handles.pop() as Buffer);
    handles.push(await p.open(session.sftp, '/upload/h4.tmp', 'w'));
    for (const handle of handles) await p.close(session.sftp, handle);
    session.end();
  });

  it('uploads, lists, downloads byte-identical and resumes an upload with an ssh2 client', async () => {
    const session = await login.session();
    const full = crypto.randomBytes(4 * 1024 * 1024 + 11);
    fs.writeFileSync(path.join(local, 'ssh2.bin'), full);
    await new Promise<void>((resolve, reject) =>
      session.sftp.fastPut(path.join(local, 'ssh2.bin'), '/upload/ssh2.bin', (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    const listed = (await p.readdir(session.sftp, '/upload')).find((e) => e.filename === 'ssh2.bin');
    assert.match(listed?.longname ?? '', /^-rw------- .* 4194315 .* ssh2\.bin$/);
    await new Promise<void>((resolve, reject) =>
      session.sftp.fastGet('/upload/ssh2.bin', path.join(local, 'ssh2-back.bin'), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    assert.equal(sha256(path.join(local, 'ssh2-back.bin')), sha256(path.join(local, 'ssh2.bin')));

    // Resume as GUI clients do: ask the size of the partial file, then append the rest from there.
    await p.writeFile(session.sftp, '/upload/resumed.bin', full.subarray(0, 1_000_003));
    const { size } = await p.stat(session.sftp, '/upload/resumed.bin');
    const handle = await p.open(session.sftp, '/upload/resumed.bin', 'r+');
    for (let at = size; at < full.length; at += 32 * 1024) {
      await p.write(session.sftp, handle, full.subarray(at, Math.min(at + 32 * 1024, full.length)), at);
    }
    await p.close(session.sftp, handle);
    assert.ok((await p.readFile(session.sftp, '/upload/resumed.bin')).equals(full));
    session.end();
  });

  it('works with a libssh2-based client (curl): password login, upload, listing, download', async () => {
    const password = await h.accounts.regeneratePassword(district.id, district.slug);
    const content = crypto.randomBytes(300_000);
    fs.writeFileSync(path.join(local, 'curl.bin'), content);
    const url = `sftp://127.0.0.1:${h.port}`;
    // -k: the host key is checked by the fingerprint tests; libssh2 has no known_hosts here.
    const curl = (...args: string[]) =>
      execFileP('curl', ['-sS', '-k', '-u', `${district.slug}:${password}`, ...args], {
        encoding: 'buffer',
        maxBuffer: 10 * 1024 * 1024,
      });
    await curl('-T', path.join(local, 'curl.bin'), `${url}/upload/curl.bin`);
    const listing = (await curl(`${url}/upload/`)).stdout.toString();
    assert.match(listing, /-rw------- .* 300000 .* curl\.bin/);
    const { stdout } = await curl(`${url}/upload/curl.bin`);
    assert.ok(stdout.equals(content), 'downloaded bytes differ from the upload');
  });

  it('renames and answers stat for an ssh2 client', async () => {
    const session = await login.session();
    await p.writeFile(session.sftp, '/upload/x.part', 'hello');
    const st = await p.stat(session.sftp, '/upload/x.part');
    assert.equal(st.size, 5);
    await p.rename(session.sftp, '/upload/x.part', '/upload/x.csv');
    assert.equal((await p.readFile(session.sftp, '/upload/x.csv')).toString(), 'hello');
    session.end();
  });
});
