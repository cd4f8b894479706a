import type { ReadSummary } from '../csv/read-roster';
import { SchoolsRepository } from '../db/repositories/schools.repository';
import type { SyncRunRow } from '../db/repositories/sync-runs.repository';
import { withHeartbeat } from '../temporal/heartbeat';
import type { RunGuard } from './run-guard';
import { storedFile, type EngineConfig, type RunSteps } from './run-steps';

/** Streams the run's stored file through the reader into its staging partition. */
export async function copyFile(
  steps: RunSteps,
  run: SyncRunRow,
  config: EngineConfig,
  guard: RunGuard,
  keepFindings: boolean,
): Promise<ReadSummary> {
  const fileRef = storedFile(run);
  const schools = (await new SchoolsRepository(steps.deps.pool).listForDistrict(run.district_id)).map(
    (s) => s.name,
  );
  const source = steps.deps.artifacts.open(fileRef);
  try {
    return await steps.staging.copyBatches(
      run.id,
      config.matchingKey,
      steps.readRoster(source, {
        fileName: run.file_name ?? 'roster.csv',
        matchingKey: config.matchingKey,
        schools,
      }),
      guard.fence,
      keepFindings,
    );
  } finally {
    source.destroy();
  }
}

/** The set-based checks after COPY; a rebuild only marks rows with the errors recorded the first time. */
export async function checkRows(
  steps: RunSteps,
  run: SyncRunRow,
  config: EngineConfig,
  guard: RunGuard,
  fresh: boolean,
): Promise<void> {
  await withHeartbeat('checking rows', async () => {
    if (fresh) await steps.staging.flagDuplicates(run.id, config.matchingKey, guard.fence);
    await steps.staging.markErrorRows(run.id, guard.fence);
    await steps.staging.analyze(run.id);
  });
}
