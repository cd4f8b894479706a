import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../../../activities';
import type { SyncActivities } from '../../../activities/types';
import type { Env } from '../../../lib/config/env';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { testEnv } from '../../support/env';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { HOSTED_LATEST, seedDistrictWithConfig } from '../../support/seed';

/**
 * The worker's real activities (createActivities, as the worker wires them) over a private
 * database and data folder, for tests that put a district's file in its hosted SFTP folder on
 * disk and fetch it.
 */
export interface FetchHarness {
  db: TestDatabase;
  dataDir: string;
  env: Readonly<Env>;
  activities: SyncActivities;
  runs: SyncRunsRepository;
  /** Where the activities keep run files (DATA_DIR/artifacts). */
  artifactsRoot: string;
  /** A district reading its hosted folder for the latest file, with that folder made. */
  hostedDistrict(district?: { slug?: string; name?: string }): Promise<HostedDistrict>;
  close(): Promise<void>;
}

export interface HostedDistrict {
  id: string;
  slug: string;
  /** The district's hosted SFTP folder (DATA_DIR/sftp/<slug>). */
  folder: string;
}

/** `settings`: environment variables for the worker on top of the test defaults. */
export async function startFetchHarness(
  name: string,
  settings: Record<string, string>,
): Promise<FetchHarness> {
  const db = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `rostersync-${name}-`));
  const env = testEnv({ db, dataDir }, settings);
  const artifactsRoot = path.join(dataDir, 'artifacts');
  return {
    db,
    dataDir,
    env,
    activities: createActivities({ pool: db.pool, artifacts: new ArtifactStore(artifactsRoot), env }),
    runs: new SyncRunsRepository(db.pool),
    artifactsRoot,
    async hostedDistrict(district = {}) {
      const { id, slug } = await seedDistrictWithConfig(db.pool, HOSTED_LATEST, district);
      const folder = path.join(dataDir, 'sftp', slug);
      fs.mkdirSync(folder, { recursive: true });
      return { id, slug, folder };
    },
    async close() {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
