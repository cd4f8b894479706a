import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { type District, type KeyPair, inSession, makeKey, p, runSftp, useSftpServer } from './sftp-harness';

const LIMIT = 6;
const TOO_MANY =
  /Too many files and folders: your folder may hold 6 \(SFTP_MAX_ENTRIES\); remove old files or folders, such as old epoch folders in \/upload/;
const EPOCH = /^\/upload\/\d{8}-\d{6}$/;

const rmdir = (sftp: SFTPWrapper, dir: string) =>
  new Promise<void>((resolve, reject) => sftp.rmdir(dir, (err) => (err ? reject(err) : resolve())));
const ignoreFailure = <T>(work: Promise<T>): Promise<T | undefined> => work.catch(() => undefined);

/**
 * Empty files and folders cost no quota, so the number of names a district's folder holds is limited
 * on its own (a small limit here). Every district starts with `/upload`, one entry.
 */
describe('hosted SFTP: the limit on files and folders per district', () => {
  const h = useSftpServer({ maxEntries: LIMIT });
  let key: KeyPair;
  let local: string;
  const entriesOnDisk = (district: District): number =>
    fs.readdirSync(path.join(h.root, district.slug), { recursive: true }).length;
  const newDistrict = async (slug: string) => {
    const { district, session: login } = await h.addPasswordDistrict(slug);
    await h.accounts.addPublicKey(district.id, key.publicKey);
    return { district, login };
  };

  before(async () => {
    key = makeKey();
    local = h.local;
    fs.writeFileSync(path.join(local, 'users.csv'), 'email\na@x.org\n');
  });
  after(async () => {
    fs.rmSync(key.dir, { recursive: true, force: true });
  });

  it('refuses a new file or folder beyond the limit with the reason, while existing files stay usable', async () => {
    const { district, login } = await newDistrict('pine-ridge');
    await inSession(login, async (one) => {
      await p.writeFile(one.sftp, '/a.csv', 'a');
      await p.mkdir(one.sftp, '/old');
      await p.writeFile(one.sftp, '/old/b.csv', 'b');
      await p.writeFile(one.sftp, '/upload/c.csv', '');
      await p.writeFile(one.sftp, '/d.csv', '');
      assert.equal(entriesOnDisk(district), LIMIT);

      await assert.rejects(p.writeFile(one.sftp, '/e.csv', ''), TOO_MANY);
      await assert.rejects(p.mkdir(one.sftp, '/more'), TOO_MANY);
      await assert.rejects(p.open(one.sftp, '/e.csv', 'wx'), TOO_MANY);
      await assert.rejects(p.mkdir(one.sftp, '/old'), /Already exists/);
      assert.equal(entriesOnDisk(district), LIMIT);

      // Overwriting, appending, reading and renaming do not add names.
      await p.writeFile(one.sftp, '/a.csv', 'rewritten');
      const appender = await p.open(one.sftp, '/a.csv', 'a');
      await p.write(one.sftp, appender, Buffer.from('+more'), 0);
      await p.close(one.sftp, appender);
      assert.equal((await p.readFile(one.sftp, '/a.csv')).toString(), 'rewritten+more');
      await p.rename(one.sftp, '/a.csv', '/upload/a.csv');
      await p.rename(one.sftp, '/old', '/archive');
    });

    // OpenSSH's client reports the refusal and stops its batch; an upload over an existing file works.
    const sftp = (commands: string[]) =>
      runSftp({ port: h.port, username: district.slug, keyPath: key.privateKeyPath, commands, cwd: local });
    const refused = await sftp(['put users.csv /users.csv']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /users\.csv.*Failure/);
    const over = await sftp(['put users.csv /d.csv', 'get /d.csv fetched.csv']);
    assert.equal(over.code, 0, over.stderr);
    assert.equal(fs.readFileSync(path.join(local, 'fetched.csv'), 'utf8'), 'email\na@x.org\n');
    assert.equal(entriesOnDisk(district), LIMIT);

    // A new session measures the folder afresh and finds it full.
    const two = await login();
    try {
      await assert.rejects(p.writeFile(two.sftp, '/e.csv', ''), TOO_MANY);
    } finally {
      two.end();
    }
  });

  it('gives room back on remove, rmdir and a rename over an existing file', async () => {
    const { district, login } = await newDistrict('cedar-falls');
    await inSession(login, async (one) => {
      await p.mkdir(one.sftp, '/old');
      await p.writeFile(one.sftp, '/old/a.csv', 'a');
      await p.writeFile(one.sftp, '/b.csv', 'b');
      await p.writeFile(one.sftp, '/c.csv', 'c');
      await p.writeFile(one.sftp, '/d.csv', 'd');
      await assert.rejects(p.writeFile(one.sftp, '/e.csv', ''), TOO_MANY);

      await p.rename(one.sftp, '/c.csv', '/d.csv');
      await p.writeFile(one.sftp, '/e.csv', 'e');
      await assert.rejects(p.writeFile(one.sftp, '/f.csv', ''), TOO_MANY);

      await p.unlink(one.sftp, '/b.csv');
      await p.writeFile(one.sftp, '/f.csv', 'f');
      await assert.rejects(p.mkdir(one.sftp, '/new'), TOO_MANY);

      await p.unlink(one.sftp, '/old/a.csv');
      await rmdir(one.sftp, '/old');
      await p.mkdir(one.sftp, '/new');
      await p.writeFile(one.sftp, '/new/g.csv', 'g');
      await assert.rejects(p.writeFile(one.sftp, '/h.csv', ''), TOO_MANY);
      assert.equal(entriesOnDisk(district), LIMIT);
    });
  });

  it('holds across sessions of one account creating at the same time', async () => {
    const { district, login } = await newDistrict('maple-bend');
    const one = await login();
    const two = await login();
    try {
      const attempts = [one, two].flatMap((session, s) =>
        Array.from({ length: 8 }, (_, i) =>
          i % 2 === 0
            ? ignoreFailure(p.writeFile(session.sftp, `/s${s}-${i}.csv`, ''))
            : ignoreFailure(p.mkdir(session.sftp, `/s${s}-${i}`)),
        ),
      );
      await Promise.all(attempts);
      assert.equal(entriesOnDisk(district), LIMIT);
      await assert.rejects(p.writeFile(two.sftp, '/late.csv', ''), TOO_MANY);
      // Room one session frees is the other's.
      const made = (await p.readdir(one.sftp, '/')).find((entry) => entry.filename !== 'upload');
      assert.ok(made);
      if (made.longname.startsWith('d')) await rmdir(one.sftp, `/${made.filename}`);
      else await p.unlink(one.sftp, `/${made.filename}`);
      await p.writeFile(two.sftp, '/late.csv', '');
      await assert.rejects(p.writeFile(one.sftp, '/later.csv', ''), TOO_MANY);
    } finally {
      one.end();
      two.end();
    }
  });

  it('never refuses the server’s own _auto.csv move, and counts the epoch folder it makes', async () => {
    const { district, login } = await newDistrict('aspen-grove');
    await inSession(login, async (one) => {
      await p.writeFile(one.sftp, '/a.csv', '');
      await p.writeFile(one.sftp, '/b.csv', '');
      await p.writeFile(one.sftp, '/c.csv', '');
      await p.writeFile(one.sftp, '/d.csv', '');
      // The last free entry: the move adds its epoch folder and COMPLETE beyond the limit.
      await p.writeFile(one.sftp, '/upload/staff_auto.csv', 'email\nb@x.org\n');
      const event = await h.waitForEvent((e) => e.districtId === district.id && EPOCH.test(e.path));
      assert.deepEqual(fs.readdirSync(path.join(h.root, district.slug, event.path)).sort(), [
        'COMPLETE',
        'staff_auto.csv',
      ]);
      assert.equal(entriesOnDisk(district), LIMIT + 2);
      await assert.rejects(p.writeFile(one.sftp, '/e.csv', ''), TOO_MANY);

      // Removing the old epoch folder (three entries) leaves room for exactly one new name.
      await p.unlink(one.sftp, `${event.path}/staff_auto.csv`);
      await p.unlink(one.sftp, `${event.path}/COMPLETE`);
      await assert.rejects(p.writeFile(one.sftp, '/e.csv', ''), TOO_MANY);
      await rmdir(one.sftp, event.path);
      await p.writeFile(one.sftp, '/e.csv', '');
      await assert.rejects(p.writeFile(one.sftp, '/f.csv', ''), TOO_MANY);
    });
  });

  it('refuses renaming a file to an _auto.csv name without room for the epoch folder its move makes', async () => {
    const { district, login } = await newDistrict('hazel-dell');
    await inSession(login, async (one) => {
      await p.writeFile(one.sftp, '/a.csv', 'email\na@x.org\n');
      await p.writeFile(one.sftp, '/b.csv', 'email\nb@x.org\n');
      await p.writeFile(one.sftp, '/c.csv', '');
      await p.rename(one.sftp, '/a.csv', '/upload/a_auto.csv');
      const event = await h.waitForEvent((e) => e.districtId === district.id && EPOCH.test(e.path));
      assert.equal(entriesOnDisk(district), LIMIT);
      await assert.rejects(p.rename(one.sftp, '/b.csv', '/upload/b_auto.csv'), TOO_MANY);
      await assert.rejects(
        p.rename(one.sftp, `${event.path}/a_auto.csv`, '/upload/again_auto.csv'),
        TOO_MANY,
      );
      // Other renames still work at the limit.
      await p.rename(one.sftp, '/b.csv', '/upload/b.csv');
      assert.equal(entriesOnDisk(district), LIMIT);
    });
  });

  it('counts the epoch folder of a move whose uploading session has ended', async () => {
    const { district, login } = await newDistrict('willow-run');
    const one = await login();
    await p.writeFile(one.sftp, '/a.csv', '');
    await p.writeFile(one.sftp, '/upload/staff_auto.csv', 'email\nb@x.org\n');
    one.end();
    await h.waitForEvent((e) => e.districtId === district.id && EPOCH.test(e.path));
    const two = await login();
    try {
      // /upload, a.csv, the epoch folder, its file and COMPLETE: one name left.
      assert.equal(entriesOnDisk(district), 5);
      await p.writeFile(two.sftp, '/b.csv', '');
      await assert.rejects(p.writeFile(two.sftp, '/c.csv', ''), TOO_MANY);
    } finally {
      two.end();
    }
  });
});
