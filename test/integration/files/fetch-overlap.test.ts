import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { SyncActivities } from '../../../activities/types';
import type { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { DistrictArtifactsRepository } from '../../../lib/storage/district-artifacts.repository';
import type { TestDatabase } from '../../support/postgres';
import { type FetchHarness, startFetchHarness } from './fetch-harness';

type Failure = Error & { type?: string; nonRetryable?: boolean };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Large enough that copying it takes a while on a busy machine; sparse, so it costs no disk to make. */
const BIG = 384 * 1024 * 1024;
const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

/**
 * The hosted folder changing while the real fetch activity copies from it, and two attempts of one
 * run overlapping (the first outlived its timeout and is still copying): the run keeps one file,
 * and its bytes are the ones its SHA-256 names.
 */
describe('a hosted file that changes while it is fetched', () => {
  let h: FetchHarness;
  let db: TestDatabase;
  let activities: SyncActivities;
  let runs: SyncRunsRepository;
  const artifactsRoot = () => h.artifactsRoot;

  before(async () => {
    h = await startFetchHarness('overlap', {
      UPLOAD_QUIET_SECONDS: '0',
      DISTRICT_ARTIFACT_MAX_BYTES: String(4 * BIG),
    });
    ({ db, activities, runs } = h);
  });
  after(async () => {
    await h?.close();
  });

  async function district(): Promise<{ id: string; file: string; runId: string }> {
    const { id, folder } = await h.hostedDistrict();
    const file = path.join(folder, 'users.csv');
    fs.writeFileSync(file, 'email,first_name\n');
    fs.truncateSync(file, BIG);
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(file, past, past);
    const { runId } = await activities.createRun({
      districtId: id,
      trigger: 'sync_now',
      dryRun: false,
    });
    return { id, file, runId };
  }

  /** Resolves once a fetch of the district is copying (its temporary file exists). */
  async function copying(districtId: string): Promise<void> {
    const dir = path.join(artifactsRoot(), 'districts', districtId);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.startsWith('incoming-'))) return;
      await sleep(5);
    }
    assert.fail('the fetch never started copying');
  }

  /** What support checks: the run's recorded file exists and its bytes hash to the recorded SHA-256. */
  async function assertRunFileIntact(runId: string): Promise<Buffer> {
    const run = await runs.get(runId);
    assert.ok(run?.file_ref && run.file_sha256, 'the run recorded a file');
    const bytes = fs.readFileSync(path.join(artifactsRoot(), run.file_ref));
    assert.equal(bytes.length, run.file_size);
    assert.equal(sha256(bytes), run.file_sha256, 'the kept bytes are the ones the SHA-256 names');
    return bytes;
  }

  it('keeps one intact file when a second attempt of the run starts while the first is still copying', async () => {
    const d = await district();
    const first = activities.fetchFile({ runId: d.runId }).then(
      (file) => ({ file }),
      (err: Failure) => ({ err }),
    );
    await copying(d.id);
    // Meanwhile the district uploads a new export (to a temporary name, renamed into place).
    const fresh = Buffer.from('email,first_name\na@x.org,Ann\n');
    fs.writeFileSync(`${d.file}.part`, fresh);
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(`${d.file}.part`, past, past);
    fs.renameSync(`${d.file}.part`, d.file);
    const second = await activities.fetchFile({ runId: d.runId });
    assert.equal(second.sha256, sha256(fresh));
    const late = await first;
    if ('file' in late) assert.deepEqual(late.file, second, 'the late attempt returns the file the run kept');
    else assert.equal(late.err.type, 'FileStillUploading', late.err.message);
    assert.deepEqual(await assertRunFileIntact(d.runId), fresh);
    // Nothing of the late attempt is left behind.
    const left = fs.readdirSync(path.join(artifactsRoot(), 'districts', d.id));
    assert.deepEqual(left, [sha256(fresh)]);
  });

  it('discards a copy when the file is uploaded again in place while it is copied, and reads the new upload', async () => {
    const d = await district();
    const fetching = activities.fetchFile({ runId: d.runId }).then(
      () => assert.fail('a copy of a file rewritten meanwhile was kept'),
      (err: Failure) => err,
    );
    await copying(d.id);
    const fresh = Buffer.from('email,first_name\nb@x.org,Bo\n');
    fs.writeFileSync(d.file, fresh); // the same file, truncated and written again
    const err = await fetching;
    assert.equal(err.type, 'FileStillUploading');
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /users\.csv changed while it was copied .* the copy was discarded/);
    assert.equal((await runs.get(d.runId))?.file_ref, null, 'the run recorded nothing');
    // The retry reads the new upload whole.
    const retried = await activities.fetchFile({ runId: d.runId });
    assert.equal(retried.sha256, sha256(fresh));
    assert.deepEqual(await assertRunFileIntact(d.runId), fresh);
  });

  it('lets a stale attempt finishing late leave alone the file the run already staged from', async () => {
    const d = await district();
    const stale = activities.fetchFile({ runId: d.runId });
    await copying(d.id);
    // Meanwhile another attempt kept its file and the run staged from it.
    const kept = Buffer.from('email,first_name\nc@x.org,Cy\n');
    const store = new ArtifactStore(artifactsRoot()).withBound({
      repository: new DistrictArtifactsRepository(db.pool),
      maxBytes: 4 * BIG,
    });
    const stored = await store.putForRun(d.runId, 'users.csv', kept.length, Readable.from([kept]));
    await db.pool.query(
      `UPDATE sync_runs SET stage = 'staged', file_name = 'users.csv', file_ref = $2, file_size = $3, file_sha256 = $4
       WHERE id = $1`,
      [d.runId, stored.fileRef, stored.size, stored.sha256],
    );
    const late = await stale;
    assert.equal(late.sha256, stored.sha256, 'the late attempt returns the file the run went on with');
    const run = await runs.get(d.runId);
    assert.equal(run?.stage, 'staged');
    assert.deepEqual(await assertRunFileIntact(d.runId), kept);
  });
});
