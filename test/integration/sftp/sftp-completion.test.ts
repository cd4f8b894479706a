import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { Pool } from 'pg';
import pino from 'pino';
import { OpenUploadsRepository } from '../../../lib/db/repositories/open-uploads.repository';
import { OpenUploadRecords } from '../../../lib/sftp-server/open-upload-records';
import { type District, type KeyLogin, p, useSftpServer } from './sftp-harness';

const EPOCH = /^\/upload\/\d{8}-\d{6}$/;

/** Only finished uploads are reported to the sync (the quiet period is 300 ms in these tests). */
describe('hosted SFTP: upload completion', () => {
  const h = useSftpServer();
  let district: District;
  let login: KeyLogin;
  let local: string;
  const sftp = (commands: string[]) => login.sftp(commands);
  const reported = () => h.events.filter((e) => e.districtId === district.id).map((e) => e.path);

  before(async () => {
    login = await h.addKeyDistrict('oak-hollow');
    ({ district } = login);
    local = h.local;
    fs.writeFileSync(path.join(local, 'users.csv'), 'email\na@x.org\n');
    fs.writeFileSync(path.join(local, 'COMPLETE'), '');
  });

  it('reports a plain file once it is closed and quiet, not while a temporary name is used', async () => {
    const run = await sftp(['put users.csv /upload/users.csv.filepart', 'put users.csv /upload/.hidden.csv']);
    assert.equal(run.code, 0, run.stderr);
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(reported(), [], 'temporary and dot names are not uploads');
    const renamed = await sftp(['rename /upload/users.csv.filepart /upload/users.csv']);
    assert.equal(renamed.code, 0, renamed.stderr);
    const event = await h.waitForEvent((e) => e.path === '/upload/users.csv');
    assert.equal(event.username, district.slug);
    assert.deepEqual(reported(), ['/upload/users.csv']);
  });

  it('reports an epoch directory only when COMPLETE appears, once', async () => {
    h.events.length = 0;
    const run = await sftp([
      'mkdir /upload/20261123-101500',
      'put users.csv /upload/20261123-101500/users.csv',
    ]);
    assert.equal(run.code, 0, run.stderr);
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(reported(), [], 'no COMPLETE yet');
    const done = await sftp(['put COMPLETE /upload/20261123-101500/COMPLETE']);
    assert.equal(done.code, 0, done.stderr);
    await h.waitForEvent((e) => e.path === '/upload/20261123-101500');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(reported(), ['/upload/20261123-101500']);
  });

  it('moves a *_auto.csv into a new epoch directory with COMPLETE', async () => {
    h.events.length = 0;
    fs.writeFileSync(path.join(local, 'staff_auto.csv'), 'email\nb@x.org\n');
    const run = await sftp(['put staff_auto.csv /upload/staff_auto.csv']);
    assert.equal(run.code, 0, run.stderr);
    const event = await h.waitForEvent((e) => EPOCH.test(e.path));
    const epochReal = path.join(h.root, district.slug, event.path);
    assert.deepEqual(fs.readdirSync(epochReal).sort(), ['COMPLETE', 'staff_auto.csv']);
    assert.equal(fs.statSync(path.join(epochReal, 'COMPLETE')).size, 0);
    assert.equal(fs.readFileSync(path.join(epochReal, 'staff_auto.csv'), 'utf8'), 'email\nb@x.org\n');
    assert.equal(fs.existsSync(path.join(h.root, district.slug, 'upload', 'staff_auto.csv')), false);
  });

  it('ignores files in other sub-folders, and never reports an upload cut off mid-transfer', async () => {
    h.events.length = 0;
    const run = await sftp(['mkdir /upload/archive', 'put users.csv /upload/archive/users.csv']);
    assert.equal(run.code, 0, run.stderr);
    // An ssh2 client opens a file, writes part of it and drops the connection.
    const session = await login.session();
    const handle = await p.open(session.sftp, '/upload/cut.csv', 'w');
    await p.write(session.sftp, handle, Buffer.from('email\nhalf'), 0);
    session.client.destroy();
    await new Promise((r) => setTimeout(r, 900));
    assert.deepEqual(reported(), []);
    assert.equal(
      fs.readFileSync(path.join(h.root, district.slug, 'upload', 'cut.csv'), 'utf8'),
      'email\nhalf',
    );
  });

  it('publishes a file open for writing, for workers on any machine, until it is closed', async () => {
    h.events.length = 0;
    const openUploads = new OpenUploadsRepository(h.db.pool);
    const session = await login.session();
    try {
      const handle = await p.open(session.sftp, '/upload/paused.csv', 'w');
      await p.write(session.sftp, handle, Buffer.from('email\na@x.org\n'), 0);
      // Three quiet periods with the file open: still open, and not reported.
      await new Promise((r) => setTimeout(r, 900));
      assert.equal((await openUploads.unfinished(district.id)).get('upload/paused.csv'), 'open');
      assert.deepEqual(reported(), []);
      await p.close(session.sftp, handle);
    } finally {
      session.end();
    }
    await h.waitForEvent((e) => e.path === '/upload/paused.csv');
    assert.equal((await openUploads.unfinished(district.id)).has('upload/paused.csv'), false);
  });

  it('marks an upload cut off mid-transfer as interrupted until the file is written again', async () => {
    h.events.length = 0;
    const openUploads = new OpenUploadsRepository(h.db.pool);
    const cut = await login.session();
    const handle = await p.open(cut.sftp, '/users.csv', 'w');
    await p.write(cut.sftp, handle, Buffer.from('email\na@x.org\n'), 0);
    const dropped = new Promise<void>((resolve) => cut.client.once('close', () => resolve()));
    cut.client.destroy();
    await dropped;
    const deadline = Date.now() + 5_000;
    while (
      (await openUploads.unfinished(district.id)).get('users.csv') !== 'interrupted' &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await openUploads.unfinished(district.id)).get('users.csv'), 'interrupted');
    // Uploaded again in full: nothing unfinished, and the upload is reported.
    const again = await login.session();
    try {
      await p.writeFile(again.sftp, '/users.csv', 'email\na@x.org\nb@x.org\n');
    } finally {
      again.end();
    }
    await h.waitForEvent((e) => e.path === '/users.csv');
    assert.equal((await openUploads.unfinished(district.id)).has('users.csv'), false);
  });

  it("lets the open records of a server that died expire, so no file stays 'open' for ever", async () => {
    const openUploads = new OpenUploadsRepository(h.db.pool);
    // A server process that records an open file and then stops renewing (as if killed).
    const crashed = new OpenUploadRecords(h.db.pool, pino({ level: 'silent' }), 1_000);
    crashed.opened(district.id, '/upload/orphan.csv');
    await crashed.flushed();
    assert.ok((await openUploads.unfinished(district.id)).has('upload/orphan.csv'));
    crashed.stopRenewing();
    await new Promise((r) => setTimeout(r, 2_500)); // the 1 s lease, with margin
    assert.equal((await openUploads.unfinished(district.id)).has('upload/orphan.csv'), false);
  });

  describe('open-upload records across server replicas', () => {
    const silent = pino({ level: 'silent' });
    const waitFor = async (check: () => Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    };

    it('brings back the records of uploads still open after the database stopped answering for longer than the lease', async () => {
      const openUploads = new OpenUploadsRepository(h.db.pool);
      // Server A reaches the database through one connection, which the test holds to cut it off.
      const poolA = new Pool({ connectionString: h.db.url, max: 1 });
      const serverA = new OpenUploadRecords(poolA, silent, 1_500);
      const serverB = new OpenUploadRecords(h.db.pool, silent, 600);
      try {
        serverA.opened(district.id, '/upload/slow.csv');
        serverA.opened(district.id, '/upload/cut-off.csv');
        serverA.interrupted(district.id, '/upload/cut-off.csv');
        await serverA.flushed();
        const cutOff = await poolA.connect();
        // Past A's lease: server B drops A's rows as expired, as every server does.
        await new Promise((r) => setTimeout(r, 3_000));
        const during = await openUploads.unfinished(district.id);
        assert.equal(during.has('upload/slow.csv'), false, 'the rows expired during the outage');
        cutOff.release();
        await waitFor(async () => {
          const now = await openUploads.unfinished(district.id);
          return now.has('upload/slow.csv') && now.has('upload/cut-off.csv');
        }, 6_000);
        const after = await openUploads.unfinished(district.id);
        assert.equal(after.get('upload/slow.csv'), 'open', 'the file A still holds open is open again');
        assert.equal(after.get('upload/cut-off.csv'), 'interrupted', 'the cut-off upload is marked again');
      } finally {
        await serverA.close();
        await serverB.close();
        await poolA.end();
      }
      const closed = await openUploads.unfinished(district.id);
      assert.equal(closed.has('upload/slow.csv') || closed.has('upload/cut-off.csv'), false);
    });

    it('clears an interrupted mark of one server when the upload is finished on another', async () => {
      const openUploads = new OpenUploadsRepository(h.db.pool);
      const serverA = new OpenUploadRecords(h.db.pool, silent, 1_500);
      const serverB = new OpenUploadRecords(h.db.pool, silent, 1_500);
      try {
        serverA.opened(district.id, '/staff.csv');
        serverA.interrupted(district.id, '/staff.csv');
        await serverA.flushed();
        assert.equal((await openUploads.unfinished(district.id)).get('staff.csv'), 'interrupted');
        // The district reconnects, lands on server B and uploads the file again in full.
        serverB.opened(district.id, '/staff.csv');
        serverB.finished(district.id, '/staff.csv');
        await serverB.flushed();
        assert.equal((await openUploads.unfinished(district.id)).has('staff.csv'), false);
        // Several of A's renewals later the mark has not come back.
        await new Promise((r) => setTimeout(r, 2_000));
        await serverA.flushed();
        assert.equal((await openUploads.unfinished(district.id)).has('staff.csv'), false);
      } finally {
        await serverA.close();
        await serverB.close();
      }
    });

    it('writes only the latest state of each file when files open and close faster than the database answers', async () => {
      const openUploads = new OpenUploadsRepository(h.db.pool);
      const poolA = new Pool({ connectionString: h.db.url, max: 1 });
      let statements = 0;
      const query = poolA.query.bind(poolA);
      poolA.query = ((...args: Parameters<typeof query>) => {
        statements++;
        return query(...args);
      }) as typeof poolA.query;
      const serverA = new OpenUploadRecords(poolA, silent, 60_000);
      try {
        const cutOff = await poolA.connect();
        for (let round = 0; round < 200; round++) {
          for (let file = 0; file < 50; file++) {
            serverA.opened(district.id, `/upload/burst-${file}.csv`);
            if (round < 199 || file % 2 === 0) serverA.finished(district.id, `/upload/burst-${file}.csv`);
          }
        }
        cutOff.release();
        await serverA.flushed();
        assert.ok(statements <= 60, `${statements} statements for 50 files (20,000 events)`);
        const after = await openUploads.unfinished(district.id);
        const burst = [...after.keys()].filter((k) => k.startsWith('upload/burst-')).sort();
        assert.equal(burst.length, 25, 'the files left open are open, the closed ones are not');
        assert.ok(burst.every((k) => Number(/burst-(\d+)/.exec(k)![1]) % 2 === 1));
      } finally {
        await serverA.close();
        await poolA.end();
      }
    });
  });
});
