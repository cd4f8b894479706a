import type { Readable } from 'node:stream';
import type { Pool } from 'pg';
import {
  FailureType,
  RetryableFailureType,
  type ApplyResult,
  type PlanResult,
  type RunStatus,
  type Safeguards,
  type StageResult,
  type SyncTrigger,
} from '../contracts/sync';
import { errorCode } from '../csv/error-codes';
import type { Finding, MatchingKey } from '../csv/roster-record';
import { readRoster as realReadRoster } from '../csv/read-roster';
import type { ReadRosterOptions, ReadSummary, RosterBatch } from '../csv/read-roster';
import { SchoolsRepository } from '../db/repositories/schools.repository';
import { SyncConfigsRepository, type SyncConfigRecord } from '../db/repositories/sync-configs.repository';
import { isSettled, SyncRunsRepository, type SyncRunRow } from '../db/repositories/sync-runs.repository';
import { inTransaction } from '../db/transaction';
import { DomainError } from '../errors/domain-error';
import type { ArtifactStore } from '../storage/artifact-store';
import { attemptScheduledAt } from '../temporal/activity-context';
import { ApplyRepository } from './apply.repository';
import { CoachingGroupsRepository } from './coaching-groups.repository';
import { fatalFailureType } from './fatal-type';
import { withHeartbeat } from '../temporal/heartbeat';
import { PlanRepository } from './plan.repository';
import { RunGuard } from './run-guard';
import { RunReports } from './run-reports';
import { CHECKSUM_FORMAT, StagingRepository, type StagingFingerprint } from './staging.repository';

/** Postgres' unique_violation: the one-running-run-per-district index refused a second claim. */
const UNIQUE_VIOLATION = '23505';

export type ReadRoster = (
  source: Readable,
  opts: ReadRosterOptions,
) => AsyncGenerator<RosterBatch, ReadSummary>;

export interface SyncEngineDeps {
  pool: Pool;
  artifacts: ArtifactStore;
  /** The streaming CSV reader; replaceable only so tests can feed hand-made batches. */
  readRoster?: ReadRoster;
}

/** Users changed by one apply beyond which the planner's statistics on users are refreshed. */
const STATISTICS_REFRESH_ROWS = 10_000;

type EngineConfig = SyncConfigRecord & { matchingKey: MatchingKey };

/**
 * A run's life in the database: create, start, stage the file, plan, apply, finish. Every step is
 * idempotent on the run id, so Temporal can retry or reset any of them.
 */
export class SyncEngine {
  private readonly runs: SyncRunsRepository;
  private readonly configs: SyncConfigsRepository;
  private readonly staging: StagingRepository;
  private readonly plans: PlanRepository;
  private readonly readRoster: ReadRoster;

  constructor(private readonly deps: SyncEngineDeps) {
    this.runs = new SyncRunsRepository(deps.pool);
    this.configs = new SyncConfigsRepository(deps.pool);
    this.staging = new StagingRepository(deps.pool);
    this.plans = new PlanRepository(deps.pool);
    this.readRoster = deps.readRoster ?? realReadRoster;
  }

  async createRun(input: {
    districtId: string;
    trigger: SyncTrigger;
    dryRun: boolean;
    runId?: string;
  }): Promise<{ runId: string }> {
    await this.config(input.districtId);
    const run = await this.runs.create(input);
    return { runId: run.id };
  }

  async startRun(input: { runId: string; workflowId: string }): Promise<{ safeguards: Safeguards }> {
    const run = await this.run(input.runId);
    const config = await this.config(run.district_id);
    let started: boolean;
    try {
      started = await this.runs.markRunning(run.id, input.workflowId);
    } catch (err) {
      // The one-running-run-per-district index refused the claim: another run of the district is
      // running. Retryable on purpose: that run finishes, then this one starts.
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      const other = await this.runs.otherRunning(run.id, run.district_id);
      throw new DomainError(
        RetryableFailureType.RunInProgress,
        `Run ${other?.id ?? '(just finished)'} of this district is still running; runs of one district never overlap.`,
      );
    }
    if (!started) {
      // A reset or replay of a run that already ended (support reset a finished run in the Temporal
      // UI): its outcome, counts, findings and plan are history, so it is refused, never run again.
      const ended = await this.run(run.id);
      throw new DomainError(
        FailureType.RunFinished,
        `Run ${run.id} already ended (${ended.status}${ended.applied_at ? ', applied' : ''}); a reset or replay leaves it as it is. Sync Now starts a new run, and a failed run can be retried through the API.`,
      );
    }
    return {
      safeguards: {
        errorThresholdPct: config.errorThresholdPct,
        maxArchivePct: config.maxArchivePct,
        maxArchiveCount: config.maxArchiveCount,
        maxRowDropPct: config.maxRowDropPct,
      },
    };
  }

  /**
   * Stage, plan and apply each run under the run's guard (lib/sync/run-guard.ts): overlapping
   * attempts of a run take turns, and an attempt older than the last one writes nothing.
   * `attemptAt` orders the attempts; inside an activity it is Temporal's schedule time of the attempt.
   */
  async stageFile(input: { runId: string }, attemptAt = attemptScheduledAt()): Promise<StageResult> {
    return await this.guarded(input.runId, attemptAt, async (guard) => {
      const started = Date.now();
      const run = await this.run(input.runId);
      // Staging again would clear the findings and plan an admin reads in the run's history.
      if (isSettled(run)) return await this.recordedStage(run);
      const config = await this.config(run.district_id);
      storedFile(run);
      await this.staging.reset(run.id, guard.fence);
      const summary = await this.copyFile(run, config, guard, true);
      const copied = Date.now();
      await this.recordGuarded(guard, { stage: 'staging' }, { stage: 'stage_copy', ms: copied - started });

      let fatal = summary.fatal;
      if (!fatal) await this.checkRows(run, config, guard, true);
      const counts = await this.staging.counts(run.id);
      if (!fatal && counts.valid + counts.rowsWithErrors === 0) fatal = headerOnly();
      if (fatal) await this.staging.recordFatal(run.id, fatal, guard.fence);
      const staged = await this.staging.fingerprint(run.id);

      const result: StageResult = {
        rowsTotal: summary.rowsTotal,
        rowsBlank: summary.rowsBlank,
        rowsValid: fatal ? 0 : counts.valid,
        rowsWithErrors: counts.rowsWithErrors,
        warningCount: counts.warnings,
        ...(fatal ? { fatal: { type: fatalFailureType(fatal.code), message: fatal.message } } : {}),
      };
      await this.recordGuarded(
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
      await this.runs.update(run.id, {}, { stage: 'stage', ms: Date.now() - started });
      return result;
    });
  }

  async planChanges(input: { runId: string }, attemptAt = attemptScheduledAt()): Promise<PlanResult> {
    return await this.guarded(input.runId, attemptAt, async (guard) => {
      const started = Date.now();
      const run = await this.run(input.runId);
      const previousRowCount = await this.runs.lastAppliedRowCount(run.district_id, run.id);
      if (isSettled(run)) {
        // Applied or ended (a retry, replay or reset repeated this step): the stored plan is the
        // plan, and users changed since.
        const counts = await this.plans.counts(run.id);
        return {
          ...counts,
          unchanged: run.unchanged_count ?? 0,
          activeBefore: run.active_before ?? 0,
          previousRowCount,
        };
      }
      const config = await this.config(run.district_id);
      await this.verifyStaging(run, config, guard);
      const activeBefore = await this.plans.activeUsers(run.district_id);
      const counts = await withHeartbeat('planning', () =>
        this.plans.plan(run.id, run.district_id, config.matchingKey, guard.fence),
      );
      const unchanged = Math.max(
        0,
        (run.rows_valid ?? 0) - counts.create - counts.update - counts.reactivate,
      );
      const samples = await this.plans.samples(run.id);
      await this.recordGuarded(
        guard,
        {
          stage: 'planned',
          created_count: counts.create,
          updated_count: counts.update,
          unchanged_count: unchanged,
          reactivated_count: counts.reactivate,
          archived_count: counts.archive,
          plan_samples: samples,
          active_before: activeBefore,
        },
        { stage: 'plan', ms: Date.now() - started },
      );
      return { ...counts, unchanged, activeBefore, previousRowCount };
    });
  }

  async applyChanges(input: { runId: string }, attemptAt = attemptScheduledAt()): Promise<ApplyResult> {
    return await this.guarded(input.runId, attemptAt, async (guard) => {
      const started = Date.now();
      const run = await this.run(input.runId);
      const config = await this.config(run.district_id);
      if (!isSettled(run) && !run.dry_run) await this.verifyStaging(run, config, guard);
      // The transaction runs on the guard's own session: staging was verified after that session took
      // the lock, and a database restart since would have ended it (and this transaction with it).
      const client = guard.client;
      try {
        await client.query('BEGIN');
        await guard.fence(client);
        const apply = new ApplyRepository(client);
        await apply.lockDistrict(run.district_id);
        if (!(await apply.claim(run.id))) {
          await client.query('ROLLBACK');
          const now = await this.run(run.id);
          return {
            applied: false,
            created: now.applied_at ? (now.created_count ?? 0) : 0,
            updated: now.applied_at ? (now.updated_count ?? 0) : 0,
            reactivated: now.applied_at ? (now.reactivated_count ?? 0) : 0,
            archived: now.applied_at ? (now.archived_count ?? 0) : 0,
          };
        }
        const runsInTx = new SyncRunsRepository(client);
        const counts = await withHeartbeat('applying', async () => {
          const applied = await apply.apply(run.id, run.district_id, config.matchingKey);
          const changedUsers = applied.created + applied.updated + applied.reactivated + applied.archived;
          if (changedUsers >= STATISTICS_REFRESH_ROWS) await apply.refreshUserStatistics();
          const usersDone = Date.now();
          await runsInTx.update(run.id, {}, { stage: 'apply_users', ms: usersDone - started });
          // Groups follow from users and the config alone, and only the sync writes either: when this
          // run changed no user and an earlier run already applied the current config, they are in step.
          if (changedUsers > 0 || !(await apply.appliedSince(run.id, run.district_id, config.updatedAt))) {
            await new CoachingGroupsRepository(client).sync(run.district_id, config.coachingGroups);
          }
          await runsInTx.update(run.id, {}, { stage: 'apply_groups', ms: Date.now() - usersDone });
          return applied;
        });
        await runsInTx.update(
          run.id,
          {
            stage: 'applied',
            created_count: counts.created,
            updated_count: counts.updated,
            reactivated_count: counts.reactivated,
            archived_count: counts.archived,
          },
          { stage: 'apply', ms: Date.now() - started },
        );
        await client.query('COMMIT');
        return { applied: true, ...counts };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async finishRun(input: {
    runId: string;
    status: Exclude<RunStatus, 'queued' | 'running'>;
    failureType?: string;
    failureMessage?: string;
  }): Promise<void> {
    const run = await this.run(input.runId);
    const recorded = await this.runs.finish(run.id, input.status, {
      type: input.failureType,
      message: input.failureMessage,
    });
    // A held run keeps its staging for the review decision; a final run keeps plan and errors only.
    // A refused finish means the run had already ended: a retry after a crash between the two
    // statements still drops what is left.
    if (input.status !== 'held' || !recorded) await this.staging.drop(run.id);
  }

  private async run(runId: string): Promise<SyncRunRow> {
    const run = await this.runs.get(runId);
    if (!run) throw new DomainError(FailureType.RunNotFound, `Run ${runId} does not exist.`);
    return run;
  }

  private async config(districtId: string): Promise<EngineConfig> {
    const config = await this.configs.get(districtId);
    if (!config) {
      throw new DomainError(
        FailureType.ConfigMissing,
        'The district has no sync configuration; save one on the sync settings page first.',
      );
    }
    return config;
  }

  /** What staging recorded on the run row, and the fatal finding that failed it, if one did. */
  private async recordedStage(run: SyncRunRow): Promise<StageResult> {
    const summary = await new RunReports(this.deps.pool, this.deps.artifacts).errorSummary(run.id);
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

  private async guarded<T>(
    runId: string,
    attemptAt: Date,
    work: (guard: RunGuard) => Promise<T>,
  ): Promise<T> {
    const run = await this.run(runId);
    const guard = await RunGuard.acquire(this.deps.pool, run.id, attemptAt);
    try {
      return await work(guard);
    } finally {
      await guard.release();
    }
  }

  /** Writes the outcome of a guarded step on the run row, only while the step holds the guard. */
  private async recordGuarded(
    guard: RunGuard,
    fields: Parameters<SyncRunsRepository['update']>[1],
    timing: { stage: string; ms: number },
  ): Promise<void> {
    await inTransaction(this.deps.pool, async (client) => {
      await guard.fence(client);
      await new SyncRunsRepository(client).update(guard.runId, fields, timing);
    });
  }

  /** Streams the run's stored file through the reader into its staging partition. */
  private async copyFile(
    run: SyncRunRow,
    config: EngineConfig,
    guard: RunGuard,
    keepFindings: boolean,
  ): Promise<ReadSummary> {
    const fileRef = storedFile(run);
    const schools = (await new SchoolsRepository(this.deps.pool).listForDistrict(run.district_id)).map(
      (s) => s.name,
    );
    const source = this.deps.artifacts.open(fileRef);
    try {
      return await this.staging.copyBatches(
        run.id,
        config.matchingKey,
        this.readRoster(source, {
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
  private async checkRows(
    run: SyncRunRow,
    config: EngineConfig,
    guard: RunGuard,
    fresh: boolean,
  ): Promise<void> {
    await withHeartbeat('checking rows', async () => {
      if (fresh) await this.staging.flagDuplicates(run.id, config.matchingKey, guard.fence);
      await this.staging.markErrorRows(run.id, guard.fence);
      await this.staging.analyze(run.id);
    });
  }

  /**
   * A run never plans or applies from staging it did not verify: staging is UNLOGGED, and a crash
   * or failover of Postgres leaves it empty. When it does not match what stage recorded, it is
   * staged again from the run's stored file, which gives the same rows (and so keeps the plan valid)
   * unless the file or the district's schools changed since; then the run fails, applying nothing.
   */
  private async verifyStaging(run: SyncRunRow, config: EngineConfig, guard: RunGuard): Promise<void> {
    const found = await this.staging.fingerprint(run.id);
    if (matchesRecorded(run, found)) return;
    const started = Date.now();
    let rebuilt: StagingFingerprint | undefined;
    try {
      await this.staging.emptyForRebuild(run.id, guard.fence);
      const summary = await this.copyFile(run, config, guard, false);
      if (!summary.fatal) await this.checkRows(run, config, guard, false);
      rebuilt = await this.staging.fingerprint(run.id);
    } catch (err) {
      // The stored file is gone: nothing can give the staged rows back.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.runs.update(run.id, {}, { stage: 'restage', ms: Date.now() - started });
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
}

function storedFile(run: SyncRunRow): string {
  if (!run.file_ref) {
    throw new DomainError(
      FailureType.FileNotFound,
      'The run has no file to read: fetching the file did not complete.',
    );
  }
  return run.file_ref;
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
