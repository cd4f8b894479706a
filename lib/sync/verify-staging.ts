import { FailureType } from '../contracts/sync';
import type { SyncRunRow } from '../db/repositories/sync-runs.repository';
import { DomainError } from '../errors/domain-error';
import type { RunGuard } from './run-guard';
import type { EngineConfig, RunSteps } from './run-steps';
import { CHECKSUM_FORMAT, type StagingFingerprint } from './staging.repository';
import { checkRows, copyFile } from './staging-copy';

/**
 * A run never plans or applies from staging it did not verify: staging is UNLOGGED, and a crash
 * or failover of Postgres leaves it empty. When it does not match what stage recorded, it is
 * staged again from the run's stored file, which gives the same rows (and so keeps the plan valid)
 * unless the file or the district's schools changed since; then the run fails, applying nothing.
 */
export async function verifyStaging(
  steps: RunSteps,
  run: SyncRunRow,
  config: EngineConfig,
  guard: RunGuard,
): Promise<void> {
  const found = await steps.staging.fingerprint(run.id);
  if (matchesRecorded(run, found)) return;
  const started = Date.now();
  let rebuilt: StagingFingerprint | undefined;
  try {
    await steps.staging.emptyForRebuild(run.id, guard.fence);
    const summary = await copyFile(steps, run, config, guard, false);
    if (!summary.fatal) await checkRows(steps, run, config, guard, false);
    rebuilt = await steps.staging.fingerprint(run.id);
  } catch (err) {
    // The stored file is gone: nothing can give the staged rows back.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await steps.runs.update(run.id, {}, { stage: 'restage', ms: Date.now() - started });
  // A run staged before checksums is only trusted as found: a rebuild of it cannot be verified.
  if (run.staged_checksum?.startsWith(CHECKSUM_FORMAT) && matchesRecorded(run, rebuilt)) return;
  const why = !rebuilt
    ? 'its stored file is gone'
    : !run.staged_checksum?.startsWith(CHECKSUM_FORMAT)
      ? 'it was staged by an earlier version that recorded no checksum to compare the rebuilt rows with'
      : `staging its file again did not give the same rows (${rebuilt.validRows} valid rows instead of ${run.rows_valid ?? 0}): the district's schools or settings changed since the run was planned`;
  throw new DomainError(
    FailureType.StagingLost,
    `The rows this run staged were lost (the database restarted or failed over since), and they cannot be rebuilt: ${why}. ` +
      `Nothing was applied. Run Sync Now to sync the district's current file, or ask support to re-run this run from its first step, ` +
      `which stages the same file again and plans it against today's schools.`,
  );
}

/**
 * Whether staging is what stage recorded. A run staged before checksums (or under another formula)
 * is checked by its valid-row count instead: a crash empties staging, so the count tells.
 */
function matchesRecorded(run: SyncRunRow, found: StagingFingerprint | undefined): boolean {
  if (!found) return false;
  if (run.staged_checksum?.startsWith(CHECKSUM_FORMAT)) {
    return found.rows === run.staged_rows && found.checksum === run.staged_checksum;
  }
  return found.rows > 0 && found.validRows === run.rows_valid;
}
