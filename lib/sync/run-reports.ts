import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { ERROR_CODES } from '../csv/error-codes';
import { SyncRunsRepository } from '../db/repositories/sync-runs.repository';
import type { ArtifactStore } from '../storage/artifact-store';
import { type ErrorCount, RunReportsRepository } from './run-reports.repository';
import { assertRunId } from './run-id';

export interface ErrorSummaryEntry extends ErrorCount {
  title: string;
  fix: string;
}

/**
 * What a run's history page serves: the error summary (counts explained by the error dictionary),
 * the errors and the plan as CSV, and the original file. The CSVs outlive the run's staging data.
 */
export class RunReports {
  private readonly byCode = new Map(ERROR_CODES.map((e) => [e.code, e]));
  private readonly repository: RunReportsRepository;

  constructor(
    private readonly pool: Pool,
    private readonly artifacts: ArtifactStore,
  ) {
    this.repository = new RunReportsRepository(pool);
  }

  async errorSummary(runId: string): Promise<ErrorSummaryEntry[]> {
    const counts = await this.repository.errorCounts(runId);
    return counts.map((r) => {
      const entry = this.byCode.get(r.code);
      return {
        code: r.code,
        severity: r.severity,
        count: r.count,
        title: entry?.title ?? r.code,
        fix: entry?.fix ?? '',
      };
    });
  }

  /** See RunReportsRepository.copyErrorsCsv. */
  async writeErrorsCsv(runId: string, out: Writable, via?: PoolClient): Promise<void> {
    await this.repository.copyErrorsCsv(runId, out, via);
  }

  /** See RunReportsRepository.copyPlanCsv. */
  async writePlanCsv(runId: string, out: Writable, via?: PoolClient): Promise<void> {
    await this.repository.copyPlanCsv(runId, out, via);
  }

  /**
   * The run's original file, byte for byte as the district sent it; 'not-fetched' when the run ended
   * before it had one, 'gone' when it had one that is no longer in the store (removed from DATA_DIR).
   */
  async openOriginal(
    runId: string,
  ): Promise<{ name: string; size: number; stream: Readable } | 'not-fetched' | 'gone'> {
    const run = await new SyncRunsRepository(this.pool).get(assertRunId(runId));
    if (!run?.file_ref) return 'not-fetched';
    let size: number;
    try {
      size = (await fs.promises.stat(this.artifacts.resolve(run.file_ref))).size;
    } catch {
      return 'gone';
    }
    return {
      name: run.file_name ?? path.posix.basename(run.file_ref),
      size,
      stream: this.artifacts.open(run.file_ref),
    };
  }
}
