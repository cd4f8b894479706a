import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  type District,
  type KeyLogin,
  type KeyPair,
  connectSsh2,
  loginError,
  p,
  useSftpServer,
} from './sftp-harness';

/**
 * Each district sees its own folder as `/` and nothing else: not the server's files, not another
 * district's, whatever path, link or encoding the client tries.
 */
describe('hosted SFTP: jail and district isolation', () => {
  const h = useSftpServer();
  let north: District;
  let south: District;
  let northLogin: KeyLogin;
  let northKey: KeyPair;
  let southPassword: string;
  let local: string;
  /** A file outside every district folder, next to the server's data. */
  let outsideFile: string;
  const SECRET = 'south roster: do not share\n';

  const northSftp = (commands: string[]) => northLogin.sftp(commands);

  before(async () => {
    northLogin = await h.addKeyDistrict('north-fork');
    ({ district: north, key: northKey } = northLogin);
    ({ district: south, password: southPassword } = await h.addPasswordDistrict('south-bend'));
    local = h.local;
    outsideFile = path.join(path.dirname(h.root), 'server-secret.txt');
    fs.writeFileSync(outsideFile, 'server secret\n');

    const southSession = await connectSsh2({ port: h.port, username: south.slug, password: southPassword });
    await p.writeFile(southSession.sftp, '/upload/users.csv', SECRET);
    southSession.end();
    // North's session creates its folder; links are then planted as a careless operator might.
    const northSession = await northLogin.session();
    await p.readdir(northSession.sftp, '/upload'); // answered once the folder is made
    northSession.end();
    const northRoot = path.join(h.root, north.slug);
    fs.symlinkSync(path.join(h.root, south.slug), path.join(northRoot, 'south-link'));
    fs.symlinkSync(outsideFile, path.join(northRoot, 'upload', 'secret-link.txt'));
    fs.symlinkSync('/etc', path.join(northRoot, 'etc-link'));
  });

  it('clamps .. and absolute paths at the district folder (OpenSSH sftp)', async () => {
    const run = await northSftp([
      'cd ../../..',
      'pwd',
      'ls -a /../..',
      '-get /etc/passwd passwd',
      `-get ../${south.slug}/upload/users.csv stolen.csv`,
      `-get /../../${south.slug}/upload/users.csv stolen2.csv`,
      `-ls ../${south.slug}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Remote working directory: \/\n/);
    const rootListing = run.stdout.split('sftp> ls -a /../..\n')[1].split('sftp>')[0];
    assert.match(rootListing, /upload/);
    assert.doesNotMatch(rootListing, new RegExp(south.slug));
    assert.match(run.stderr, /"\/etc\/passwd" not found/);
    assert.match(run.stderr, new RegExp(`"/\\.\\./${south.slug}/upload/users\\.csv" not found`));
    assert.equal(fs.existsSync(path.join(local, 'passwd')), false);
    assert.equal(fs.existsSync(path.join(local, 'stolen.csv')), false);
    assert.equal(fs.existsSync(path.join(local, 'stolen2.csv')), false);
  });

  it('refuses symlinks that lead out of the folder, for reading, listing and writing', async () => {
    fs.writeFileSync(path.join(local, 'plant.csv'), 'planted\n');
    const run = await northSftp([
      '-get /upload/secret-link.txt secret.txt',
      '-ls /south-link/upload',
      '-get /south-link/upload/users.csv stolen.csv',
      '-put plant.csv /south-link/upload/users.csv',
      '-put plant.csv /upload/secret-link.txt',
      '-ls /etc-link',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(fs.existsSync(path.join(local, 'secret.txt')), false);
    assert.equal(fs.existsSync(path.join(local, 'stolen.csv')), false);
    const printed = run.stdout
      .split('\n')
      .filter((line) => !line.startsWith('sftp>'))
      .join('\n');
    assert.doesNotMatch(printed, /users\.csv|passwd|shadow/);
    assert.match(run.stderr, /secret-link\.txt.*Permission denied/);
    assert.match(run.stderr, /south-link\/upload.*Permission denied/);
    // Neither the other district's file nor the server's file was touched.
    assert.equal(fs.readFileSync(path.join(h.root, south.slug, 'upload', 'users.csv'), 'utf8'), SECRET);
    assert.equal(fs.readFileSync(outsideFile, 'utf8'), 'server secret\n');
  });

  it('refuses links, backslashes, control characters and invalid UTF-8 from an ssh2 client', async () => {
    const session = await northLogin.session();
    try {
      await assert.rejects(p.symlink(session.sftp, '/etc/passwd', '/upload/passwd'), /not allowed/);
      await assert.rejects(p.readFile(session.sftp, '/upload/secret-link.txt'), /outside your folder/);
      await assert.rejects(p.readdir(session.sftp, '/south-link'), /outside your folder/);
      await assert.rejects(
        p.readFile(session.sftp, `..\\${south.slug}\\upload\\users.csv`),
        /character that is not allowed/,
      );
      await assert.rejects(p.writeFile(session.sftp, '/upload/a\u0000b.csv', 'x'), /not allowed/);
      // A lone surrogate goes on the wire as the UTF-8 replacement character: not guessed at, refused.
      await assert.rejects(p.writeFile(session.sftp, '/upload/\ud800.csv', 'x'), /invalid UTF-8/);
      await assert.rejects(p.readFile(session.sftp, `/../${south.slug}/upload/users.csv`), /No such file/);
      assert.equal(await p.realpath(session.sftp, `/../../${south.slug}`), `/${south.slug}`);
      // Its own links are listed (lstat), never followed into the target.
      const names = (await p.readdir(session.sftp, '/')).map((e) => e.filename).sort();
      assert.deepEqual(names, ['etc-link', 'south-link', 'upload']);
    } finally {
      session.end();
    }
  });

  it('keeps two districts apart: neither sees the other, nor logs in with the other’s credentials', async () => {
    const southSession = await connectSsh2({ port: h.port, username: south.slug, password: southPassword });
    const northSession = await northLogin.session();
    try {
      await p.writeFile(northSession.sftp, '/upload/users.csv', 'north roster\n');
      assert.equal((await p.readFile(southSession.sftp, '/upload/users.csv')).toString(), SECRET);
      assert.equal((await p.readFile(northSession.sftp, '/upload/users.csv')).toString(), 'north roster\n');
      const southNames = (await p.readdir(southSession.sftp, '/')).map((e) => e.filename);
      assert.deepEqual(southNames, ['upload']);
    } finally {
      southSession.end();
      northSession.end();
    }
    await loginError({ port: h.port, username: north.slug, password: southPassword });
    await loginError({
      port: h.port,
      username: south.slug,
      privateKey: fs.readFileSync(northKey.privateKeyPath),
    });
  });
});
