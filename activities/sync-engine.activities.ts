import type { Pool } from 'pg';
import { SyncEngine } from '../lib/sync/sync-engine.service';
import type { ArtifactStore } from '../lib/storage/artifact-store';
import type { SyncActivities } from './types';

export type SyncEngineActivities = Pick<
  SyncActivities,
  'createRun' | 'startRun' | 'stageFile' | 'planChanges' | 'applyChanges' | 'finishRun'
>;

/** The sync engine's activities: thin wrappers, the rules live in lib/sync. */
export function createSyncEngineActivities(deps: {
  pool: Pool;
  artifacts: ArtifactStore;
}): SyncEngineActivities {
  const engine = new SyncEngine(deps);
  return {
    createRun: (input) => engine.createRun(input),
    startRun: (input) => engine.startRun(input),
    stageFile: (input) => engine.stageFile(input),
    planChanges: (input) => engine.planChanges(input),
    applyChanges: (input) => engine.applyChanges(input),
    finishRun: (input) => engine.finishRun(input),
  };
}
