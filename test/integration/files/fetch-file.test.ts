import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { createFetchFileActivities, type FetchFileDeps } from '../../../activities/fetch-file.activities';
import { encryptSecret } from '../../../lib/crypto/secret-box';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { refusal } from '../../../lib/files/external-host-guard';
import { SourceWatch, type SourceLimits } from '../../../lib/files/source-watch';
import {
  connectExternal,
  downloadExternal,
  listExternalFolder,
  type ExternalSftpSettings,
} from '../../../lib/files/external-sftp-source';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { startOpenSshServer, type OpenSshServer } from '../../support/openssh-server';
import { FIXTURES } from '../../support/paths';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { queuedRun, seedDistrictWithConfig } from '../../support/seed';

/** fetchFile against the real places files come from: our hosted folder and OpenSSH's sshd. */
describe('fetching the district file', () => {
  let db: TestDatabase;
  let sshd: OpenSshServer;
  let dataDir: string;
  let remoteDir: string;
  const secretKey = crypto.randomBytes(32).toString('hex');
  const roster = fs.readFileSync(path.join(FIXTURES, 'e2e', '01-initial-roster.csv'));
  const sha256 = crypto.createHash('sha256').update(roster).digest('hex');

  before(async () => {
    [db, sshd] = await Promise.all([createTestDatabase(), startOpenSshServer()]);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-fetch-'));
    remoteDir = path.join(sshd.dir, 'exports');
    fs.mkdirSync(remoteDir);
  });
  after(async () => {
    await sshd?.stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const limits: SourceLimits = {
    operationMs: 20_000,
    stallMs: 20_000,
    minBytesPerSecond: 0,
    windowMs: 60_000,
  };
  const newWatch = () => new SourceWatch(limits, `127.0.0.1:${sshd.port}`);

  // The OpenSSH server standing in for a district's own is on 127.0.0.1: private addresses allowed.
  const activities = (overrides: Partial<FetchFileDeps> = {}) =>
    createFetchFileActivities({
      pool: db.pool,
      artifacts: new ArtifactStore(path.join(dataDir, 'artifacts')),
      hostedRoot: path.join(dataDir, 'sftp'),
      secretKey,
      quietMs: 0,
      downloadConcurrency: 4,
      maxFileBytes: 2 * 1024 ** 3,
      allowPrivateAddresses: true,
      sourceLimits: limits,
      ...overrides,
    });

  const districtWithConfig = async (slug: string, config: Record<string, unknown>): Promise<string> =>
    (await seedDistrictWithConfig(db.pool, config, { slug })).id;

  const newRun = (districtId: string) => queuedRun(db.pool, districtId);

  /** A district fetching from the test's OpenSSH server, with its real host key and a key login. */
  const ownServer = (slug: string, config: Record<string, unknown> = {}) =>
    districtWithConfig(slug, {
      source: 'external',
      file_rule: 'latest',
      external_host: '127.0.0.1',
      external_port: sshd.port,
      external_username: sshd.username,
      external_key_enc: encryptSecret(secretKey, sshd.privateKey),
      external_host_key: sshd.hostKeyFingerprint,
      external_path: remoteDir,
      ...config,
    });

  it('copies the latest file from the hosted folder, byte for byte, and records it on the run', async () => {
    const districtId = await districtWithConfig('hosted-district', { source: 'hosted', file_rule: 'latest' });
    fs.mkdirSync(path.join(dataDir, 'sftp', 'hosted-district'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'sftp', 'hosted-district', 'users.csv'), roster);
    fs.writeFileSync(path.join(dataDir, 'sftp', 'hosted-district', 'next.csv.filepart'), 'half');
    const runId = await newRun(districtId);
    const fetched = await activities().fetchFile({ runId });
    assert.equal(fetched.name, 'users.csv');
    assert.equal(fetched.sha256, sha256);
    const run = await new SyncRunsRepository(db.pool).get(runId);
    assert.equal(run?.file_sha256, sha256);
    assert.equal(run?.file_size, roster.length);
  });

  it("downloads from a district's own SFTP server with a pinned host key and an encrypted key", async () => {
    fs.writeFileSync(path.join(remoteDir, 'staff_export.csv'), roster);
    const districtId = await ownServer('own-server', {
      file_rule: 'specific_name',
      file_name: 'staff_export.csv',
    });
    const runId = await newRun(districtId);
    const store = new ArtifactStore(path.join(dataDir, 'artifacts'));
    const fetched = await activities().fetchFile({ runId });
    assert.equal(fetched.sha256, sha256);
    assert.deepEqual(fs.readFileSync(store.resolve(fetched.fileRef)), roster);
    // A retry re-uses the copy it made, even if the server's file changed since.
    fs.writeFileSync(path.join(remoteDir, 'staff_export.csv'), 'changed');
    assert.equal((await activities().fetchFile({ runId })).sha256, sha256);
  });

  it('refuses a server whose host key does not match, with a non-retryable HostKeyMismatch', async () => {
    const districtId = await ownServer('spoofed', {
      external_host_key: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    await assert.rejects(
      activities().fetchFile({ runId: await newRun(districtId) }),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'HostKeyMismatch');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, new RegExp(sshd.hostKeyFingerprint.replace(/[+/]/g, '.')));
        return true;
      },
    );
  });

  it('reports a missing file as FileNotFound with what to do', async () => {
    const districtId = await districtWithConfig('no-file', {
      source: 'hosted',
      file_rule: 'specific_name',
      file_name: 'users.csv',
    });
    await assert.rejects(
      activities().fetchFile({ runId: await newRun(districtId) }),
      (err: Error & { type?: string }) => {
        assert.equal(err.type, 'FileNotFound');
        assert.match(err.message, /No file named 'users.csv'/);
        return true;
      },
    );
  });

  type Failure = Error & { type?: string; nonRetryable?: boolean };

  it('fails a file over FETCH_MAX_FILE_BYTES with a non-retryable FileTooLarge, and stores nothing', async () => {
    fs.writeFileSync(path.join(remoteDir, 'huge.csv'), roster);
    const districtId = await ownServer('too-large', { file_rule: 'specific_name', file_name: 'huge.csv' });
    const runId = await newRun(districtId);
    await assert.rejects(
      activities({ maxFileBytes: roster.length - 1 }).fetchFile({ runId }),
      (err: Failure) => {
        assert.equal(err.type, 'FileTooLarge');
        assert.equal(err.nonRetryable, true);
        assert.match(
          err.message,
          new RegExp(`huge\\.csv on 127\\.0\\.0\\.1:${sshd.port} is ${roster.length} bytes`),
        );
        assert.match(err.message, new RegExp(`limit of ${roster.length - 1} bytes .*FETCH_MAX_FILE_BYTES`));
        assert.match(err.message, /raise FETCH_MAX_FILE_BYTES on the worker/);
        return true;
      },
    );
    assert.equal(fs.existsSync(path.join(dataDir, 'artifacts', 'runs', runId)), false);
    assert.equal((await new SyncRunsRepository(db.pool).get(runId))?.file_ref, null);
  });

  it('applies the same limit to the hosted folder', async () => {
    const districtId = await districtWithConfig('hosted-too-large', {
      source: 'hosted',
      file_rule: 'latest',
    });
    fs.mkdirSync(path.join(dataDir, 'sftp', 'hosted-too-large'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'sftp', 'hosted-too-large', 'users.csv'), roster);
    const runId = await newRun(districtId);
    await assert.rejects(
      activities({ maxFileBytes: 100 }).fetchFile({ runId }),
      (err: Failure) => err.type === 'FileTooLarge' && /the hosted SFTP server/.test(err.message),
    );
    assert.equal(fs.existsSync(path.join(dataDir, 'artifacts', 'runs', runId)), false);
  });

  describe("listing and downloading on a district's own server", () => {
    const settings = (): ExternalSftpSettings => ({
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      path: remoteDir,
    });

    it('copies exactly the listed size and removes the copy of a file that grew or shrank', async () => {
      const remote = path.join(remoteDir, 'changing.csv');
      const local = path.join(dataDir, 'changing-copy.csv');
      fs.writeFileSync(remote, roster);
      const { sftp, close } = await connectExternal(settings(), {
        allowPrivateAddresses: true,
        watch: newWatch(),
      });
      try {
        await downloadExternal(sftp, remote, local, {
          size: roster.length,
          concurrency: 4,
          watch: newWatch(),
        });
        assert.deepEqual(fs.readFileSync(local), roster);
        // Told a smaller size than the file has (as when the file grew after the listing, or the
        // server's fstat lies): it reads no further than told, then refuses the copy.
        await assert.rejects(
          downloadExternal(sftp, remote, local, { size: 100, concurrency: 4, watch: newWatch() }),
          /is longer than the 100 bytes the server listed: it changed while downloading; retrying/,
        );
        assert.equal(fs.existsSync(local), false);
        // A file shorter than listed fails instead of waiting for bytes that never come.
        await assert.rejects(
          downloadExternal(sftp, remote, local, {
            size: roster.length + 70_000,
            concurrency: 4,
            watch: newWatch(),
          }),
          new RegExp(`ended before the ${roster.length + 70_000} bytes the server listed .*; retrying`),
        );
        assert.equal(fs.existsSync(local), false);
      } finally {
        close();
      }
    });

    it('lists root, upload/ and epoch folders, and stops at 10,000 entries', async () => {
      const tree = path.join(remoteDir, 'tree');
      fs.mkdirSync(path.join(tree, 'upload', '20261128-010000'), { recursive: true });
      fs.writeFileSync(path.join(tree, 'upload', '20261128-010000', 'users.csv'), roster);
      fs.writeFileSync(path.join(tree, 'upload', '20261128-010000', 'COMPLETE'), '');
      fs.writeFileSync(path.join(tree, 'users.csv'), roster);
      fs.mkdirSync(path.join(tree, 'other', 'deeper'), { recursive: true });
      const many = path.join(remoteDir, 'many');
      fs.mkdirSync(many);
      for (let i = 0; i < 10_050; i++) fs.writeFileSync(path.join(many, `f${i}.csv`), '');
      const { sftp, close } = await connectExternal(settings(), {
        allowPrivateAddresses: true,
        watch: newWatch(),
      });
      try {
        const listed = await listExternalFolder(sftp, tree, newWatch());
        assert.deepEqual(listed.map((e) => e.path).sort(), [
          'other',
          'upload',
          'upload/20261128-010000',
          'upload/20261128-010000/COMPLETE',
          'upload/20261128-010000/users.csv',
          'users.csv',
        ]);
        assert.equal(listed.find((e) => e.path === 'users.csv')?.size, roster.length);
        assert.equal((await listExternalFolder(sftp, many, newWatch())).length, 10_000);
        assert.deepEqual(await listExternalFolder(sftp, path.join(remoteDir, 'missing'), newWatch()), []);
      } finally {
        close();
      }
    });
  });

  describe('addresses the worker must not connect to', () => {
    /** A listener on loopback that counts connections: a refused host must never reach it. */
    async function countingListener(): Promise<{ port: number; connections: () => number; close(): void }> {
      let count = 0;
      const server = net.createServer((socket) => {
        count++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        port: (server.address() as net.AddressInfo).port,
        connections: () => count,
        close: () => server.close(),
      };
    }

    it('refuses loopback unless EXTERNAL_SFTP_ALLOW_PRIVATE is set, before any connection', async () => {
      const listener = await countingListener();
      try {
        for (const host of ['127.0.0.1', 'localhost', '::ffff:127.0.0.1']) {
          const districtId = await ownServer(`loopback-${listener.port}-${host.replace(/[^a-z0-9]/g, '')}`, {
            external_host: host,
            external_port: listener.port,
          });
          await assert.rejects(
            activities({ allowPrivateAddresses: false }).fetchFile({ runId: await newRun(districtId) }),
            (err: Failure) => {
              assert.equal(err.type, 'HostNotAllowed');
              assert.equal(err.nonRetryable, true);
              assert.match(
                err.message,
                /rostersync did not connect to .*: it (is|resolves to) a loopback address/,
              );
              assert.match(err.message, /set EXTERNAL_SFTP_ALLOW_PRIVATE=true on the worker/);
              return true;
            },
          );
        }
        assert.equal(listener.connections(), 0);
      } finally {
        listener.close();
      }
    });

    it('refuses link-local (cloud metadata) even with private addresses allowed', async () => {
      const districtId = await ownServer('metadata', { external_host: '169.254.169.254', external_port: 22 });
      const started = Date.now();
      await assert.rejects(activities().fetchFile({ runId: await newRun(districtId) }), (err: Failure) => {
        assert.equal(err.type, 'HostNotAllowed');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /did not connect to 169\.254\.169\.254: it is a link-local address/);
        assert.doesNotMatch(err.message, /EXTERNAL_SFTP_ALLOW_PRIVATE/);
        return true;
      });
      // No connection attempt: one would wait for the 20 s handshake timeout.
      assert.ok(Date.now() - started < 5_000);
    });

    it('names the configured host, not the internal address it resolves to, and logs that address for support', async () => {
      const districtId = await ownServer('resolves-inside', {
        external_host: 'localhost',
        external_port: 22,
      });
      const logged: LogEntry[] = [];
      const activity = new MockActivityEnvironment(undefined, {
        logger: new DefaultLogger('WARN', (entry) => logged.push(entry)),
      });
      const runId = await newRun(districtId);
      await assert.rejects(
        activity.run(activities({ allowPrivateAddresses: false }).fetchFile, { runId }),
        (err: Failure) => {
          assert.equal(err.type, 'HostNotAllowed');
          assert.equal(
            err.message.split(':')[0],
            'rostersync did not connect to localhost',
            'the message starts with the host the district configured',
          );
          assert.match(
            err.message,
            /: it resolves to a loopback address, and this worker connects only to public/,
          );
          // What a district reads in its run history and mail names none of our addresses.
          assert.doesNotMatch(err.message, /127\.0\.0\.1|::1|\d+\.\d+\.\d+\.\d+/);
          return true;
        },
      );
      const entry = logged.find((e) => e.meta?.host === 'localhost');
      assert.ok(entry, 'the refusal is in the worker log');
      assert.match(String(entry.meta?.resolvedAddress), /^(127\.0\.0\.1|::1)$/);
      assert.equal(entry.meta?.runId, runId);
    });

    it('connects to a host name through the address it checked', async () => {
      fs.writeFileSync(path.join(remoteDir, 'by-name.csv'), roster);
      const districtId = await ownServer('by-name', {
        external_host: 'localhost',
        file_rule: 'specific_name',
        file_name: 'by-name.csv',
      });
      assert.equal((await activities().fetchFile({ runId: await newRun(districtId) })).sha256, sha256);
    });

    it('sorts addresses into always refused, private and public', () => {
      const cases: Array<[string, 'never' | 'private' | 'public']> = [
        ['169.254.169.254', 'never'],
        ['fe80::1', 'never'],
        ['fd00:ec2::254', 'never'],
        ['0.0.0.0', 'never'],
        ['::', 'never'],
        ['224.0.0.1', 'never'],
        ['ff02::1', 'never'],
        ['255.255.255.255', 'never'],
        ['::ffff:169.254.169.254', 'never'],
        ['64:ff9b::a9fe:a9fe', 'never'],
        ['127.0.0.1', 'private'],
        ['::1', 'private'],
        ['10.1.2.3', 'private'],
        ['172.16.0.1', 'private'],
        ['172.31.255.255', 'private'],
        ['192.168.1.1', 'private'],
        ['100.64.0.1', 'private'],
        ['fd12:3456::1', 'private'],
        ['::ffff:10.0.0.1', 'private'],
        ['64:ff9b::7f00:1', 'private'],
        ['172.32.0.1', 'public'],
        ['8.8.8.8', 'public'],
        ['100.128.0.1', 'public'],
        ['2001:4860:4860::8888', 'public'],
        ['64:ff9b::808:808', 'public'],
      ];
      for (const [address, expected] of cases) {
        const strict = refusal(address, false);
        const lenient = refusal(address, true);
        const actual = lenient ? 'never' : strict ? 'private' : 'public';
        assert.equal(actual, expected, address);
      }
    });
  });
});
