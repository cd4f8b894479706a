import { AuditTrail } from '../audit/audit-trail.service';
import type { Readable } from 'node:stream';
import { ConflictException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import type { Env } from '../../../lib/config/env';
import type { DistrictStatus, RunOutcome } from '../../../lib/contracts/schedule';
import { ManualRunsRepository } from '../../../lib/db/repositories/manual-runs.repository';
import { feedStale } from '../../../lib/mail/notice-policy';
import { type SyncRunRow, SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { RunReports } from '../../../lib/sync/run-reports';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { ENV } from '../api.tokens';
import { schedulerUnavailable } from '../common/scheduler-unavailable';
import { inWords, TooManyRequestsException } from '../common/too-many-requests.exception';
import { DistrictsService } from '../districts/districts.service';
import type { PageQuery } from '../common/paging.dto';
import { scheduleFor, SyncConfigService } from '../sync-config/sync-config.service';
import { type RunView, toRunView } from './run-view';

/** The window SYNC_NOW_PER_HOUR counts in. */
const MANUAL_RUN_WINDOW_SECONDS = 3600;

// A query needs a worker to answer; without one Temporal would keep the request waiting.
const STATUS_TIMEOUT_MS = 5000;

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What Sync Now and retry answer: the run that will do the work. `joinedQueuedRun` is true when a run
 * of the district was already queued and the request joined it rather than creating another.
 */
export interface StartedRun {
  runId: string;
  joinedQueuedRun: boolean;
}

export type ErrorSummary = Awaited<ReturnType<RunReports['errorSummary']>>;

export interface RunDetail extends RunView {
  workflowId: string | null;
  planSamples: unknown;
  /** Row errors and warnings grouped by code, with counts. */
  errorSummary: ErrorSummary;
  downloads: { file: string | null; errorsCsv: string; planCsv: string };
}

/**
 * The district's feed is stale: no new file (a different SHA-256) for longer than its
 * staleFeedHours; null while files keep changing or the alert is off.
 */
export interface StaleFeedView {
  hours: number;
  fileName: string | null;
  sha256: string;
  /** When a run first read the file every run since has read. */
  lastNewFileAt: string;
}

export type SyncStatusView =
  ({ started: true; staleFeed: StaleFeedView | null } & DistrictStatus) | { started: false; message: string };

/** Run history, Sync Now, review decisions and retries. Every lookup is scoped to the district in the path. */
@Injectable()
export class RunsService {
  private readonly logger = new Logger(RunsService.name);

  constructor(
    private readonly districts: DistrictsService,
    private readonly configs: SyncConfigService,
    private readonly runs: SyncRunsRepository,
    private readonly reports: RunReports,
    private readonly districtSync: DistrictSyncClient,
    private readonly manualRuns: ManualRunsRepository,
    @Inject(ENV) private readonly env: Readonly<Env>,
    private readonly audit: AuditTrail,
  ) {}

  async syncNow(districtId: string, dryRun: boolean): Promise<StartedRun> {
    return await this.start(districtId, { dryRun, trigger: 'sync_now', retryOf: null });
  }

  async retry(districtId: string, runId: string): Promise<StartedRun> {
    const run = await this.requireRun(districtId, runId);
    if (run.status !== 'failed')
      throw new ConflictException(
        `Run ${runId} is ${run.status}; only failed runs can be retried (use Sync Now to run again).`,
      );
    return await this.start(districtId, { dryRun: run.dry_run, trigger: 'retry', retryOf: run.id });
  }

  private async start(
    districtId: string,
    opts: { dryRun: boolean; trigger: 'sync_now' | 'retry'; retryOf: string | null },
  ): Promise<StartedRun> {
    const district = await this.districts.require(districtId);
    const config = await this.configs.find(districtId);
    if (!config)
      throw new ConflictException(
        `District ${districtId} has no sync config, so there is nothing to run: save one with PUT /districts/${districtId}/sync-config first.`,
      );
    const admission = await this.manualRuns.createWithinLimit(
      { districtId, trigger: opts.trigger, dryRun: opts.dryRun, retryOf: opts.retryOf },
      this.env.SYNC_NOW_PER_HOUR,
      MANUAL_RUN_WINDOW_SECONDS,
    );
    const kind = opts.trigger === 'retry' ? 'run.retried' : 'run.sync_now';
    const request = { dryRun: opts.dryRun, retryOf: opts.retryOf };
    if (admission.outcome === 'joined') {
      await this.audit.record(kind, districtId, {
        after: { ...request, runId: admission.runId, joinedQueuedRun: true },
      });
      return { runId: admission.runId, joinedQueuedRun: true };
    }
    if (admission.outcome === 'refused')
      throw new TooManyRequestsException(
        `District ${districtId} has had ${admission.runsInWindow} runs from Sync Now and retries in the last hour, ` +
          `the most allowed (SYNC_NOW_PER_HOUR=${this.env.SYNC_NOW_PER_HOUR}). Try again ${inWords(admission.retryAfterSeconds)}; ` +
          'scheduled runs and runs on upload go on as usual. If the district needs more, ask rostersync support to raise the limit.',
        admission.retryAfterSeconds,
      );
    const run = admission.run;
    try {
      await this.districtSync.syncNow(
        districtId,
        { runId: run.id, dryRun: opts.dryRun, trigger: opts.trigger },
        scheduleFor(district, config),
      );
    } catch (err) {
      // The row exists but no workflow will ever pick it up: record why, so history does not show a run
      // stuck in "queued" forever.
      const unavailable = schedulerUnavailable(
        this.logger,
        'error',
        `syncNow for district ${districtId} failed`,
        err,
        'The scheduler (Temporal) could not be reached, so the run was not started: try again in a minute.',
      );
      await this.runs.update(run.id, {
        status: 'failed',
        failure_type: 'SchedulerUnavailable',
        failure_message: 'The scheduler (Temporal) could not be reached; the run never started.',
        finished_at: new Date(),
      });
      throw unavailable;
    }
    await this.audit.record(kind, districtId, {
      after: { ...request, runId: run.id, joinedQueuedRun: false },
    });
    return { runId: run.id, joinedQueuedRun: false };
  }

  async status(districtId: string): Promise<SyncStatusView> {
    await this.districts.require(districtId);
    const status = await withTimeout(this.districtSync.status(districtId), STATUS_TIMEOUT_MS).catch(
      (err: Error) => {
        throw schedulerUnavailable(
          this.logger,
          'warn',
          `status query for district ${districtId} failed`,
          err,
          'The district workflow did not answer its status query: check that the worker (apps/worker) is running, then try again.',
        );
      },
    );
    if (!status)
      return {
        started: false,
        message:
          'The district schedule has not started yet: it starts when the sync config is saved or on Sync Now.',
      };
    return {
      started: true,
      ...status,
      lastOutcome: await this.recordedOutcome(districtId, status.lastOutcome),
      staleFeed: await this.staleFeed(districtId),
    };
  }

  private async staleFeed(districtId: string): Promise<StaleFeedView | null> {
    const hours = (await this.configs.find(districtId))?.staleFeedHours ?? null;
    if (hours === null) return null;
    const file = await this.runs.currentFile(districtId, new Date());
    if (!file || !feedStale(hours, file.firstReadAt, new Date())) return null;
    return {
      hours,
      fileName: file.fileName,
      sha256: file.sha256,
      lastNewFileAt: file.firstReadAt.toISOString(),
    };
  }

  /**
   * The workflow remembers which run ended last; how it ended is read from the run's row. The two
   * differ after support resets, in Temporal, a failed run that applied nothing: the reset run ends
   * differently and rewrites its row, while the district workflow may already have recorded the
   * first attempt's failure. A run still going on (no finished_at) is reported as the workflow has it.
   */
  private async recordedOutcome(districtId: string, outcome: RunOutcome | null): Promise<RunOutcome | null> {
    if (!outcome) return null;
    const run = await this.runs.get(outcome.runId, districtId);
    if (!run?.finished_at) return outcome;
    return {
      runId: run.id,
      status: run.status,
      ...(run.failure_type ? { failureType: run.failure_type } : {}),
      finishedAt: run.finished_at.toISOString(),
    };
  }

  async list(districtId: string, page: PageQuery): Promise<{ total: number; runs: RunView[] }> {
    await this.districts.require(districtId);
    const { total, runs } = await this.runs.listForDistrict(districtId, page);
    return { total, runs: runs.map(toRunView) };
  }

  /** A run of this district or a 404; a run of another district is as unknown as a missing one. */
  async requireRun(districtId: string, runId: string): Promise<SyncRunRow> {
    await this.districts.require(districtId);
    const run = await this.runs.get(runId, districtId);
    if (!run)
      throw new NotFoundException(
        `Run ${runId} not found for district ${districtId}: list its runs with GET /districts/${districtId}/runs.`,
      );
    return run;
  }

  async detail(districtId: string, runId: string): Promise<RunDetail> {
    const run = await this.requireRun(districtId, runId);
    const base = `/districts/${districtId}/runs/${runId}`;
    return {
      ...toRunView(run),
      workflowId: run.workflow_id,
      planSamples: run.plan_samples,
      errorSummary: await this.reports.errorSummary(runId),
      downloads: {
        file: run.file_ref ? `${base}/file` : null,
        errorsCsv: `${base}/errors.csv`,
        planCsv: `${base}/plan.csv`,
      },
    };
  }

  async review(
    districtId: string,
    runId: string,
    approve: boolean,
  ): Promise<{ runId: string; decision: string }> {
    const run = await this.requireRun(districtId, runId);
    if (run.status !== 'held')
      throw new ConflictException(
        `Run ${runId} is ${run.status}; only runs held for review can be approved or discarded.`,
      );
    try {
      await this.districtSync.review(districtId, { runId, approve });
    } catch (err) {
      // Branch on the error's name: class identity is not reliable across SDK copies.
      if ((err as Error).name === 'WorkflowNotFoundError')
        throw new ConflictException(
          `The district's schedule is not running, so no one is waiting for this decision: save the sync config (PUT /districts/${districtId}/sync-config) to start it, then decide again.`,
        );
      throw schedulerUnavailable(
        this.logger,
        'warn',
        `review decision for run ${runId} could not be sent`,
        err,
        'The scheduler (Temporal) could not be reached, so the decision was not sent and the run is still held: decide again in a minute.',
      );
    }
    await this.audit.record(approve ? 'run.approved' : 'run.discarded', districtId, {
      before: { runId, status: run.status },
    });
    return { runId, decision: approve ? 'approve' : 'discard' };
  }

  async original(
    districtId: string,
    runId: string,
  ): Promise<{ name: string; size: number; stream: Readable }> {
    await this.requireRun(districtId, runId);
    const file = await this.reports.openOriginal(runId);
    if (file === 'not-fetched')
      throw new NotFoundException(
        `Run ${runId} has no stored file: it ended before a file was fetched (see its failure in GET /districts/${districtId}/runs/${runId}).`,
      );
    if (file === 'gone')
      throw new NotFoundException(
        `Run ${runId}'s file is no longer in the file store (it was removed from DATA_DIR since the run); the run's counts, errors.csv and plan.csv are still available.`,
      );
    return file;
  }
}
