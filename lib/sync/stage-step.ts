import type { StageResult } from '../contracts/sync';
import { errorCode } from '../csv/error-codes';
import type { Finding } from '../csv/roster-record';
import { isSettled, type SyncRunRow } from '../db/repositories/sync-runs.repository';
import { fatalFailureType } from './fatal-type';
import { RunReports } from './run-reports';
import { storedFile, type RunSteps } from './run-steps';
import { checkRows, copyFile } from './staging-copy';

/**
 * Stages the run's stored file: COPY into its staging partition, the set-based row checks, and
 * the counts and fingerprint recorded on the run row that plan and apply verify staging against.
 */
export async function stageFile(steps: RunSteps, runId: string, attemptAt: Date): Promise<StageResult> {
  return await steps.guarded(runId, attemptAt, async (guard) => {
    const started = Date.now();
    const run = await steps.run(runId);
    // Staging again would clear the findings and plan an admin reads in the run's history.
    if (isSettled(run)) return await recordedStage(steps, run);
    const config = await steps.config(run.district_id);
    storedFile(run);
    await steps.staging.reset(run.id, guard.fence);
    const summary = await copyFile(steps, run, config, guard, true);
    const copied = Date.now();
    await steps.recordGuarded(guard, { stage: 'staging' }, { stage: 'stage_copy', ms: copied - started });

    let fatal = summary.fatal;
    if (!fatal) await checkRows(steps, run, config, guard, true);
    const counts = await steps.staging.counts(run.id);
    if (!fatal && counts.valid + counts.rowsWithErrors === 0) fatal = headerOnly();
    if (fatal) await steps.staging.recordFatal(run.id, fatal, guard.fence);
    const staged = await steps.staging.fingerprint(run.id);

    const result: StageResult = {
      rowsTotal: summary.rowsTotal,
      rowsBlank: summary.rowsBlank,
      rowsValid: fatal ? 0 : counts.valid,
      rowsWithErrors: counts.rowsWithErrors,
      warningCount: counts.warnings,
      ...(fatal ? { fatal: { type: fatalFailureType(fatal.code), message: fatal.message } } : {}),
    };
    await steps.recordGuarded(
      guard,
      {
        stage: 'staged',
        rows_total: result.rowsTotal,
        rows_blank: result.rowsBlank,
        rows_valid: result.rowsValid,
        rows_with_errors: result.rowsWithErrors,
        error_count: counts.errors + (fatal ? 1 : 0),
        warning_count: counts.warnings,
        staged_rows: staged?.rows ?? 0,
        staged_checksum: staged?.checksum ?? null,
      },
      { stage: 'stage_checks', ms: Date.now() - copied },
    );
    await steps.runs.update(run.id, {}, { stage: 'stage', ms: Date.now() - started });
    return result;
  });
}

/** What staging recorded on the run row, and the fatal finding that failed it, if one did. */
async function recordedStage(steps: RunSteps, run: SyncRunRow): Promise<StageResult> {
  const summary = await new RunReports(steps.deps.pool, steps.deps.artifacts).errorSummary(run.id);
  const fatal = summary.find((entry) => entry.severity === 'fatal');
  return {
    rowsTotal: run.rows_total ?? 0,
    rowsBlank: run.rows_blank ?? 0,
    rowsValid: run.rows_valid ?? 0,
    rowsWithErrors: run.rows_with_errors ?? 0,
    warningCount: run.warning_count ?? 0,
    ...(fatal
      ? { fatal: { type: fatalFailureType(fatal.code), message: run.failure_message ?? fatal.title } }
      : {}),
  };
}

function headerOnly(): Finding {
  const entry = errorCode('HEADER_ONLY');
  return {
    code: entry.code,
    severity: 'fatal',
    rowNumber: null,
    column: null,
    value: null,
    message: entry.title,
  };
}
