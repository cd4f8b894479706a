import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { type District, type Harness, connectSsh2, p, startHarness } from './sftp-harness';

const MiB = 1024 * 1024;
const QUOTA = 2 * MiB;
const BUSY = /File is being uploaded by another transfer; try again once that upload has finished/;
const OVER_QUOTA = /Quota exceeded: your folder may hold 2097152 bytes/;

const setstat = (sftp: SFTPWrapper, file: string, size: number) =>
  new Promise<void>((resolve, reject) =>
    sftp.setstat(file, { size }, (err) => (err ? reject(err) : resolve())),
  );
const fsetstat = (sftp: SFTPWrapper, handle: Buffer, size: number) =>
  new Promise<void>((resolve, reject) =>
    sftp.fsetstat(handle, { size }, (err) => (err ? reject(err) : resolve())),
  );
const ignoreFailure = <T>(work: Promise<T>): Promise<T | undefined> => work.catch(() => undefined);

/**
 * The quota must hold however a district's clients interleave opens, truncations, removals and
 * renames across handles and sessions: what the folder holds on disk never passes it.
 */
describe('hosted SFTP: the quota holds across handles and sessions', () => {
  let h: Harness;
  let district: District;
  let password: string;
  let one: { sftp: SFTPWrapper; end(): void };
  let two: { sftp: SFTPWrapper; end(): void };
  const folder = () => path.join(h.root, district.slug);
  const bytesOnDisk = (): number => {
    let total = 0;
    for (const entry of fs.readdirSync(folder(), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
    }
    return total;
  };
  const chunk = (fill: number) => Buffer.alloc(MiB, fill);

  before(async () => {
    h = await startHarness({ quotaBytes: QUOTA, maxFileBytes: 2 * QUOTA, quietMs: 60_000 });
    ({ district, password } = await h.addPasswordDistrict('birch-hollow'));
  });
  beforeEach(async () => {
    one?.end();
    two?.end();
    // New sessions each time: the first session of an account measures the folder afresh.
    one = await connectSsh2({ port: h.port, username: district.slug, password });
    two = await connectSsh2({ port: h.port, username: district.slug, password });
    for (const entry of await p.readdir(one.sftp, '/upload')) {
      await p.unlink(one.sftp, `/upload/${entry.filename}`);
    }
  });
  after(async () => {
    one?.end();
    two?.end();
    await h.close();
  });

  it('refuses to truncate a file another transfer is writing, and rewriting its bytes claims nothing more', async () => {
    const writer = await p.open(one.sftp, '/upload/a.csv', 'w');
    await p.write(one.sftp, writer, chunk(1), 0);
    await assert.rejects(p.open(two.sftp, '/upload/a.csv', 'w'), BUSY);
    await assert.rejects(p.open(one.sftp, '/upload/a.csv', 'w'), BUSY);
    await assert.rejects(setstat(two.sftp, '/upload/a.csv', 0), BUSY);
    // Growing it is allowed, within the quota.
    await assert.rejects(setstat(two.sftp, '/upload/a.csv', QUOTA + 1), OVER_QUOTA);
    await p.write(one.sftp, writer, chunk(2), 0);
    await p.close(one.sftp, writer);

    await p.writeFile(two.sftp, '/upload/b.csv', chunk(3));
    await assert.rejects(p.writeFile(two.sftp, '/upload/c.csv', 'x'), OVER_QUOTA);
    assert.ok(bytesOnDisk() <= QUOTA, `${bytesOnDisk()} bytes on disk`);

    // Once the upload is closed, truncating it gives its bytes back.
    await p.writeFile(two.sftp, '/upload/a.csv', Buffer.alloc(MiB - 10, 4));
    await p.writeFile(two.sftp, '/upload/c.csv', Buffer.alloc(10, 5));
    assert.equal(bytesOnDisk(), QUOTA);
  });

  it('lets the one writer of a file cut it short itself, and charges it only for what stays', async () => {
    const writer = await p.open(one.sftp, '/upload/a.csv', 'w');
    await p.write(one.sftp, writer, Buffer.alloc(2 * MiB, 1), 0);
    const reader = await p.open(two.sftp, '/upload/a.csv', 'r');
    await fsetstat(one.sftp, writer, MiB);
    await p.close(one.sftp, writer);
    await p.close(two.sftp, reader);
    await p.writeFile(two.sftp, '/upload/b.csv', chunk(2));
    await assert.rejects(p.writeFile(two.sftp, '/upload/c.csv', 'x'), OVER_QUOTA);
    assert.equal(bytesOnDisk(), QUOTA);
  });

  it('charges writes a client sends right behind cutting its own file short', async () => {
    const writer = await p.open(one.sftp, '/upload/a.csv', 'w');
    await p.write(one.sftp, writer, Buffer.alloc(QUOTA, 1), 0);
    // Pipelined as one batch: the truncation, then the same bytes written again.
    const batch = [fsetstat(one.sftp, writer, 0)];
    for (let at = 0; at < QUOTA; at += 32 * 1024) {
      batch.push(p.write(one.sftp, writer, Buffer.alloc(32 * 1024, 2), at));
    }
    await Promise.all(batch.map(ignoreFailure));
    await assert.rejects(p.writeFile(two.sftp, '/upload/b.csv', Buffer.alloc(MiB, 3)), OVER_QUOTA);
    assert.ok(bytesOnDisk() <= QUOTA, `${bytesOnDisk()} bytes on disk`);
    await p.close(one.sftp, writer);
  });

  it('keeps counting a file removed or replaced while open until its last handle closes', async () => {
    // Removed while being written: the upload goes on into a file without a name, still on disk.
    const writer = await p.open(one.sftp, '/upload/a.csv', 'w');
    await p.write(one.sftp, writer, chunk(1), 0);
    await p.unlink(two.sftp, '/upload/a.csv');
    await p.writeFile(two.sftp, '/upload/b.csv', chunk(2));
    await assert.rejects(p.writeFile(two.sftp, '/upload/c.csv', 'x'), OVER_QUOTA);
    await p.write(one.sftp, writer, chunk(3), 0);
    await p.close(one.sftp, writer);
    await p.writeFile(two.sftp, '/upload/c.csv', chunk(4));

    // Replaced by a rename while a download holds it open.
    const reader = await p.open(one.sftp, '/upload/c.csv', 'r');
    await p.rename(two.sftp, '/upload/b.csv', '/upload/c.csv');
    await assert.rejects(p.writeFile(two.sftp, '/upload/d.csv', 'x'), OVER_QUOTA);
    await p.close(one.sftp, reader);
    await p.writeFile(two.sftp, '/upload/d.csv', chunk(5));
    assert.equal(bytesOnDisk(), QUOTA);
  });

  it('leaves no more than the quota on disk after truncate, setstat, remove and rename races across sessions', async () => {
    const writers: Array<{ sftp: SFTPWrapper; handle: Buffer }> = [];
    for (let i = 0; i < 5; i++) {
      const name = `/upload/f${i}.csv`;
      const handle = await ignoreFailure(p.open(one.sftp, name, 'w'));
      if (!handle) continue;
      writers.push({ sftp: one.sftp, handle });
      await ignoreFailure(p.write(one.sftp, handle, chunk(i), 0));
      // Each trick that used to hand the bytes back while the writer still had the file open:
      const other = await ignoreFailure(p.open(two.sftp, name, 'w'));
      if (other) await ignoreFailure(p.close(two.sftp, other));
      await ignoreFailure(setstat(two.sftp, name, 0));
      await ignoreFailure(p.unlink(two.sftp, name));
      await ignoreFailure(p.writeFile(two.sftp, `/upload/g${i}.csv`, chunk(i)));
      await ignoreFailure(p.rename(two.sftp, `/upload/g${i}.csv`, name));
      await ignoreFailure(p.write(one.sftp, handle, chunk(i), 0));
      await ignoreFailure(p.write(one.sftp, handle, chunk(i), MiB));
    }
    for (const { sftp, handle } of writers) await ignoreFailure(p.close(sftp, handle));
    assert.ok(bytesOnDisk() <= QUOTA, `${bytesOnDisk()} bytes on disk against a quota of ${QUOTA}`);

    // And nothing was lost the other way: with the folder emptied the whole quota is usable again.
    for (const entry of await p.readdir(two.sftp, '/upload')) {
      await p.unlink(two.sftp, `/upload/${entry.filename}`);
    }
    await p.writeFile(two.sftp, '/upload/full.csv', Buffer.alloc(QUOTA, 7));
    assert.equal(bytesOnDisk(), QUOTA);
  });
});
