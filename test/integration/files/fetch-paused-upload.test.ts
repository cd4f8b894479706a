import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createActivities } from '../../../activities';
import { loadEnv } from '../../../lib/config/env';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { SftpAccountsRepository } from '../../../lib/sftp-server/sftp-accounts.repository';
import { loadSftpConfig } from '../../../lib/sftp-server/sftp-config';
import { createSftpServer, type SftpServer } from '../../../lib/sftp-server/sftp-server';
import type { UploadCompleteEvent } from '../../../lib/sftp-server/upload-completion';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { connectSsh2, p } from '../sftp/sftp-harness';

type Failure = Error & { type?: string; nonRetryable?: boolean };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A district's exporter uploads to the hosted SFTP server and pauses between lines for longer than
 * the quiet period, the file held open. The worker (the real fetch activity) and the server (the
 * real hosted server, in this process) share one setting and one rule: the run does not read the
 * file while it is open, and reads all of it once it is closed and quiet.
 */
describe('a paused upload to the hosted SFTP server', () => {
  let db: TestDatabase;
  let dataDir: string;
  let server: SftpServer;
  let port: number;
  const events: UploadCompleteEvent[] = [];
  const reported = () => events.map((e) => e.path);
  // One environment for both processes, as a deployment sets it.
  const settings = { UPLOAD_QUIET_SECONDS: '1' };

  before(async () => {
    db = await createTestDatabase();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-paused-'));
    server = createSftpServer({
      pool: db.pool,
      root: path.join(dataDir, 'sftp'),
      hostKeysDir: path.join(dataDir, 'sftp-host-keys'),
      config: loadSftpConfig(settings),
      log: pino({ level: 'silent' }),
      onUploadComplete: (event) => void events.push(event),
    });
    port = await server.listen(0, '127.0.0.1');
  });
  after(async () => {
    await server?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('is not read while open, however long the pause, and is read whole once closed and quiet', async () => {
    const env = loadEnv({
      DATABASE_URL: db.url,
      API_TOKEN: 'test-token-0123456789',
      SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      ...settings,
    });
    const artifacts = new ArtifactStore(path.join(dataDir, 'artifacts'));
    const { fetchFile } = createActivities({ pool: db.pool, artifacts, env });
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO districts (name, slug, time_zone) VALUES ('Pine Ridge', 'pine-ridge', 'America/Chicago') RETURNING id`,
    );
    const districtId = rows[0].id;
    await db.pool.query(
      `INSERT INTO sync_configs (district_id, source, file_rule) VALUES ($1, 'hosted', 'latest')`,
      [districtId],
    );
    const password = await new SftpAccountsRepository(db.pool).regeneratePassword(districtId, 'pine-ridge');
    const runId = (
      await new SyncRunsRepository(db.pool).create({ districtId, trigger: 'sync_now', dryRun: false })
    ).id;

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
    const env = loadEnv({
      DATABASE_URL: db.url,
      API_TOKEN: 'test-token-0123456789',
      SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      DATA_DIR: dataDir,
      ...settings,
    });
    const { fetchFile } = createActivities({
      pool: db.pool,
      artifacts: new ArtifactStore(path.join(dataDir, 'artifacts')),
      env,
    });
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO districts (name, slug, time_zone) VALUES ('Oak Bend', 'oak-bend', 'America/Chicago') RETURNING id`,
    );
    const districtId = rows[0].id;
    await db.pool.query(
      `INSERT INTO sync_configs (district_id, source, file_rule) VALUES ($1, 'hosted', 'latest')`,
      [districtId],
    );
    const password = await new SftpAccountsRepository(db.pool).regeneratePassword(districtId, 'oak-bend');
    const runs = new SyncRunsRepository(db.pool);
    const newRun = async () => (await runs.create({ districtId, trigger: 'sync_now', dryRun: false })).id;

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
