import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { SyncActivities } from '../../../activities/types';
import { SftpAccountsRepository } from '../../../lib/sftp-server/sftp-accounts.repository';
import { loadSftpConfig } from '../../../lib/sftp-server/sftp-config';
import { createSftpServer, type SftpServer } from '../../../lib/sftp-server/sftp-server';
import type { UploadCompleteEvent } from '../../../lib/sftp-server/upload-completion';
import type { TestDatabase } from '../../support/postgres';
import { HOSTED_LATEST, queuedRun, seedDistrictWithConfig } from '../../support/seed';
import { connectSsh2, p } from '../sftp/sftp-harness';
import { type FetchHarness, startFetchHarness } from './fetch-harness';

type Failure = Error & { type?: string; nonRetryable?: boolean };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A district's exporter uploads to the hosted SFTP server and pauses between lines for longer than
 * the quiet period, the file held open. The worker (the real fetch activity) and the server (the
 * real hosted server, in this process) share one setting and one rule: the run does not read the
 * file while it is open, and reads all of it once it is closed and quiet.
 */
describe('a paused upload to the hosted SFTP server', () => {
  let h: FetchHarness;
  let db: TestDatabase;
  let fetchFile: SyncActivities['fetchFile'];
  let server: SftpServer;
  let port: number;
  const events: UploadCompleteEvent[] = [];
  const reported = () => events.map((e) => e.path);
  // One environment for both processes, as a deployment sets it.
  const settings = { UPLOAD_QUIET_SECONDS: '1' };

  before(async () => {
    h = await startFetchHarness('paused', settings);
    ({ db } = h);
    ({ fetchFile } = h.activities);
    server = createSftpServer({
      pool: db.pool,
      root: path.join(h.dataDir, 'sftp'),
      hostKeysDir: path.join(h.dataDir, 'sftp-host-keys'),
      config: loadSftpConfig(settings),
      log: pino({ level: 'silent' }),
      onUploadComplete: (event) => void events.push(event),
    });
    port = await server.listen(0, '127.0.0.1');
  });
  after(async () => {
    await server?.close();
    await h?.close();
  });

  /** A district reading its hosted folder, with a password for its exporter; the folder is the server's to make. */
  async function exportingDistrict(slug: string, name: string) {
    const { id: districtId } = await seedDistrictWithConfig(db.pool, HOSTED_LATEST, { slug, name });
    const password = await new SftpAccountsRepository(db.pool).regeneratePassword(districtId, slug);
    return { districtId, password };
  }

  it('is not read while open, however long the pause, and is read whole once closed and quiet', async () => {
    const { districtId, password } = await exportingDistrict('pine-ridge', 'Pine Ridge');
    const runId = await queuedRun(db.pool, districtId);

    const firstPart = Buffer.from('email,first_name,last_name\na@pine.org,Ann,Ash\nb@pine.org,Bo,Birch\n');
    const rest = Buffer.from('c@pine.org,Cy,Cedar\nd@pine.org,Di,Dogwood\n');
    const session = await connectSsh2({ port, username: 'pine-ridge', password });
    try {
      const handle = await p.open(session.sftp, '/users.csv', 'w');
      await p.write(session.sftp, handle, firstPart, 0);
      // Longer than the quiet period: by its mtime alone the file would look complete.
      await sleep(2_500);
      await assert.rejects(fetchFile({ runId }), (err: Failure) => {
        assert.equal(err.type, 'FileStillUploading');
        assert.equal(err.nonRetryable, false);
        assert.match(
          err.message,
          /users\.csv is still being uploaded \(it is open for writing on the hosted SFTP server\)/,
        );
        return true;
      });
      assert.deepEqual(reported(), [], 'the server does not call it complete either');
      await p.write(session.sftp, handle, rest, firstPart.length);
      await p.close(session.sftp, handle);
    } finally {
      session.end();
    }

    // Retried as Temporal does, with backoff, until the upload counts as complete.
    let fetched: Awaited<ReturnType<typeof fetchFile>> | undefined;
    const failures: string[] = [];
    for (let attempt = 0; !fetched && attempt < 8; attempt++) {
      try {
        fetched = await fetchFile({ runId });
      } catch (err) {
        assert.equal((err as Failure).type, 'FileStillUploading');
        failures.push((err as Error).message);
        await sleep(500);
      }
    }
    assert.ok(fetched, `never read: ${failures.join(' | ')}`);
    const whole = Buffer.concat([firstPart, rest]);
    assert.equal(fetched.size, whole.length);
    assert.equal(fetched.sha256, crypto.createHash('sha256').update(whole).digest('hex'));
    // The server signals the same upload complete, under the same setting.
    const deadline = Date.now() + 10_000;
    while (events.length === 0 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(reported(), ['/users.csv']);
  });

  it('is not read after an interrupted upload until the file is uploaded again', async () => {
    const { districtId, password } = await exportingDistrict('oak-bend', 'Oak Bend');
    const newRun = () => queuedRun(db.pool, districtId);

    // The exporter's connection drops after the first lines, on a line boundary.
    const cut = await connectSsh2({ port, username: 'oak-bend', password });
    const handle = await p.open(cut.sftp, '/users.csv', 'w');
    await p.write(cut.sftp, handle, Buffer.from('email,first_name,last_name\na@oak.org,Ann,Ash\n'), 0);
    const dropped = new Promise<void>((resolve) => cut.client.once('close', () => resolve()));
    cut.client.destroy();
    await dropped;
    await sleep(2_500); // past the quiet period
    const runId = await newRun();
    await assert.rejects(fetchFile({ runId }), (err: Failure) => {
      assert.equal(err.type, 'FileStillUploading');
      assert.equal(err.nonRetryable, false);
      assert.match(
        err.message,
        /users\.csv is incomplete: its last upload .* was interrupted .* Upload it again/,
      );
      return true;
    });

    const whole = Buffer.from('email,first_name,last_name\na@oak.org,Ann,Ash\nb@oak.org,Bo,Birch\n');
    const again = await connectSsh2({ port, username: 'oak-bend', password });
    try {
      await p.writeFile(again.sftp, '/users.csv', whole);
    } finally {
      again.end();
    }
    await sleep(1_500); // the quiet period after the close
    const fetched = await fetchFile({ runId: await newRun() });
    assert.equal(fetched.sha256, crypto.createHash('sha256').update(whole).digest('hex'));
  });
});
