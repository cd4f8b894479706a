import type { Readable } from 'node:stream';
import type { Pool } from 'pg';
import { FailureType } from '../contracts/sync';
import type { MatchingKey } from '../csv/roster-record';
import { readRoster as realReadRoster } from '../csv/read-roster';
import type { ReadRosterOptions, ReadSummary, RosterBatch } from '../csv/read-roster';
import { SyncConfigsRepository, type SyncConfigRecord } from '../db/repositories/sync-configs.repository';
import { SyncRunsRepository, type SyncRunRow } from '../db/repositories/sync-runs.repository';
import { inTransaction } from '../db/transaction';
import { DomainError } from '../errors/domain-error';
import type { ArtifactStore } from '../storage/artifact-store';
import { PlanRepository } from './plan.repository';
import { RunGuard } from './run-guard';
import { StagingRepository } from './staging.repository';

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

export type EngineConfig = SyncConfigRecord & { matchingKey: MatchingKey };

/** What every step of a run reads and writes through: its repositories, its run row and config, its guard. */
export class RunSteps {
  readonly runs: SyncRunsRepository;
  readonly configs: SyncConfigsRepository;
  readonly staging: StagingRepository;
  readonly plans: PlanRepository;
  readonly readRoster: ReadRoster;

  constructor(readonly deps: SyncEngineDeps) {
    this.runs = new SyncRunsRepository(deps.pool);
    this.configs = new SyncConfigsRepository(deps.pool);
    this.staging = new StagingRepository(deps.pool);
    this.plans = new PlanRepository(deps.pool);
    this.readRoster = deps.readRoster ?? realReadRoster;
  }

  async run(runId: string): Promise<SyncRunRow> {
    const run = await this.runs.get(runId);
    if (!run) throw new DomainError(FailureType.RunNotFound, `Run ${runId} does not exist.`);
    return run;
  }

  async config(districtId: string): Promise<EngineConfig> {
    const config = await this.configs.get(districtId);
    if (!config) {
      throw new DomainError(
        FailureType.ConfigMissing,
        'The district has no sync configuration; save one on the sync settings page first.',
      );
    }
    return config;
  }

  /**
   * Stage, plan and apply each run under the run's guard (lib/sync/run-guard.ts): overlapping
   * attempts of a run take turns, and an attempt older than the last one writes nothing.
   * `attemptAt` orders the attempts; inside an activity it is Temporal's schedule time of the attempt.
   */
  async guarded<T>(runId: string, attemptAt: Date, work: (guard: RunGuard) => Promise<T>): Promise<T> {
    const run = await this.run(runId);
    const guard = await RunGuard.acquire(this.deps.pool, run.id, attemptAt);
    try {
      return await work(guard);
    } finally {
      await guard.release();
    }
  }

  /** Writes the outcome of a guarded step on the run row, only while the step holds the guard. */
  async recordGuarded(
    guard: RunGuard,
    fields: Parameters<SyncRunsRepository['update']>[1],
    timing: { stage: string; ms: number },
  ): Promise<void> {
    await inTransaction(this.deps.pool, async (client) => {
      await guard.fence(client);
      await new SyncRunsRepository(client).update(guard.runId, fields, timing);
    });
  }
}

/** The run's stored file, which staging reads. */
export function storedFile(run: SyncRunRow): string {
  if (!run.file_ref) {
    throw new DomainError(
      FailureType.FileNotFound,
      'The run has no file to read: fetching the file did not complete.',
    );
  }
  return run.file_ref;
}
