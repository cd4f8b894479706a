import type { Pool } from 'pg';
import { SyncEngine } from '../lib/sync/sync-engine.service';
import type { ArtifactStore } from '../lib/storage/artifact-store';
import { withTypedFailures } from './typed-failure';
import type { SyncActivities } from './types';

export type SyncEngineActivities = Pick<
  SyncActivities,
  'createRun' | 'startRun' | 'stageFile' | 'planChanges' | 'applyChanges' | 'finishRun'
>;

/** The sync engine's activities: the rules live in lib/sync, its domain errors become typed failures here. */
export function createSyncEngineActivities(deps: {
  pool: Pool;
  artifacts: ArtifactStore;
}): SyncEngineActivities {
  const engine = new SyncEngine(deps);
  return {
    createRun: (input) => withTypedFailures(() => engine.createRun(input)),
    startRun: (input) => withTypedFailures(() => engine.startRun(input)),
    stageFile: (input) => withTypedFailures(() => engine.stageFile(input)),
    planChanges: (input) => withTypedFailures(() => engine.planChanges(input)),
    applyChanges: (input) => withTypedFailures(() => engine.applyChanges(input)),
    finishRun: (input) => withTypedFailures(() => engine.finishRun(input)),
  };
}
