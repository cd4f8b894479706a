import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SyncActivities } from '../../../activities/types';
import type { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { RunReports } from '../../../lib/sync/run-reports';
import type { TestDatabase } from '../../support/postgres';
import { type FetchHarness, startFetchHarness } from '../files/fetch-harness';

/** One file's worth of bytes in these tests; the bound is set in multiples of it. */
const FILE = 10_000;
const BOUND = Math.floor(2.5 * FILE);

/**
 * The bound on what one district's runs keep (DISTRICT_ARTIFACT_MAX_BYTES), through the worker's
 * real fetchFile over a real database and the hosted SFTP folder on disk.
 */
describe('what one district may keep in the artifact store', () => {
  let h: FetchHarness;
  let db: TestDatabase;
  let dataDir: string;
  let activities: SyncActivities;
  let runs: SyncRunsRepository;

  before(async () => {
    h = await startFetchHarness('artifacts', {
      FETCH_QUIET_SECONDS: '0',
      DISTRICT_ARTIFACT_MAX_BYTES: String(BOUND),
    });
    ({ db, dataDir, activities, runs } = h);
  });
  after(async () => {
    await h?.close();
  });

  async function district(): Promise<{ id: string; upload: (content: Buffer) => void }> {
    const { id, folder } = await h.hostedDistrict();
    return {
      id,
      upload: (content) => fs.writeFileSync(path.join(folder, 'users.csv'), content),
    };
  }

  const fileOf = (seed: string, size = FILE) =>
    Buffer.from(`email,first_name\n${seed}`.padEnd(size, '#').slice(0, size));

  /**
   * A run that fetches the district's file, then ends as given (applied: as a real apply records it);
   * a failed fetch ends it failed, as the run workflow does.
   */
  async function fetchRun(
    districtId: string,
    end: 'succeeded' | 'applied' | 'held' = 'succeeded',
  ): Promise<string> {
    const { runId } = await activities.createRun({ districtId, trigger: 'sync_now', dryRun: false });
    await activities.startRun({ runId, workflowId: `sync-run:${districtId}:${runId}` });
    try {
      await activities.fetchFile({ runId });
    } catch (err) {
      const failure = err as Error & { type?: string };
      await activities.finishRun({
        runId,
        status: 'failed',
        failureType: failure.type,
        failureMessage: failure.message,
      });
      throw err;
    }
    if (end === 'applied')
      await db.pool.query('UPDATE sync_runs SET applied_at = now() WHERE id = $1', [runId]);
    await activities.finishRun({ runId, status: end === 'held' ? 'held' : 'succeeded' });
    return runId;
  }

  /** The district's files on disk (what the bound is about), ignoring nothing. */
  const keptFiles = (districtId: string): string[] => {
    const dir = path.join(dataDir, 'artifacts', 'districts', districtId);
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  };

  const original = async (runId: string) =>
    await new RunReports(db.pool, new ArtifactStore(path.join(dataDir, 'artifacts'))).openOriginal(runId);

  it('stores a file fetched again (same sha256) once, however many runs read it', async () => {
    const d = await district();
    d.upload(fileOf('same'));
    const ids = [await fetchRun(d.id), await fetchRun(d.id), await fetchRun(d.id), await fetchRun(d.id)];
    const rows = await Promise.all(ids.map((id) => runs.get(id)));
    assert.equal(new Set(rows.map((r) => r?.file_ref)).size, 1);
    assert.deepEqual(keptFiles(d.id), [rows[0]!.file_sha256]);
    // Four runs of the same file fit a bound of two and a half files: it counts once.
    for (const id of ids) assert.notEqual(await original(id), 'gone');
  });

  it('releases the oldest files to make room, never the last applied run’s nor a held run’s', async () => {
    const d = await district();
    d.upload(fileOf('applied'));
    const applied = await fetchRun(d.id, 'applied');
    d.upload(fileOf('old'));
    const old = await fetchRun(d.id);
    d.upload(fileOf('held'));
    const held = await fetchRun(d.id, 'held');
    // A, B, C would be three files in a bound of two and a half: B, the oldest releasable, goes.
    assert.equal(await original(old), 'gone');
    assert.notEqual(await original(applied), 'gone');
    assert.notEqual(await original(held), 'gone');
    assert.equal(keptFiles(d.id).length, 2);

    // Now nothing can be released (last applied + held): the next new file fails, saying what to do.
    d.upload(fileOf('new'));
    await assert.rejects(fetchRun(d.id), (err: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(err.type, 'ArtifactLimitExceeded');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /storage limit of 25000 bytes/);
      assert.match(err.message, /DISTRICT_ARTIFACT_MAX_BYTES/);
      assert.match(err.message, /last applied run/);
      return true;
    });
    assert.equal(keptFiles(d.id).length, 2, 'nothing half-copied is left behind');
    // The held run ends (discarded at review): its file is released the next time room is needed.
    await activities.finishRun({ runId: held, status: 'discarded', failureType: 'Discarded' });
    const next = await fetchRun(d.id);
    assert.notEqual(await original(next), 'gone');
    assert.equal(await original(held), 'gone');
    assert.notEqual(await original(applied), 'gone');
  });

  it('refuses a file larger than the bound before copying a byte', async () => {
    const d = await district();
    d.upload(fileOf('huge', BOUND + 1));
    await assert.rejects(fetchRun(d.id), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'ArtifactLimitExceeded');
      assert.match(err.message, /larger than the limit itself/);
      return true;
    });
    assert.deepEqual(keptFiles(d.id), []);
  });

  it('counts districts apart: one district at its bound does not limit another', async () => {
    const full = await district();
    const other = await district();
    for (const seed of ['a', 'b']) {
      full.upload(fileOf(seed));
      await fetchRun(full.id, 'held');
    }
    other.upload(fileOf('other'));
    assert.notEqual(await original(await fetchRun(other.id)), 'gone');
    assert.equal(keptFiles(other.id).length, 1);
  });
});
