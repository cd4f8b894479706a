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
import { DomainError } from '../errors/domain-error';
import { attemptScheduledAt } from '../temporal/activity-context';
import { applyChanges } from './apply-step';
import { planChanges } from './plan-step';
import { RunSteps, type SyncEngineDeps } from './run-steps';
import { stageFile } from './stage-step';

export type { ReadRoster, SyncEngineDeps } from './run-steps';

/** Postgres' unique_violation: the one-running-run-per-district index refused a second claim. */
const UNIQUE_VIOLATION = '23505';

/**
 * A run's life in the database: create, start, stage the file (stage-step.ts), plan (plan-step.ts),
 * apply (apply-step.ts), finish. Every step is idempotent on the run id, so Temporal can retry or
 * reset any of them. Stage, plan and apply run under the run's guard; `attemptAt` orders the
 * attempts (inside an activity, Temporal's schedule time of the attempt).
 */
export class SyncEngine {
  private readonly steps: RunSteps;

  constructor(deps: SyncEngineDeps) {
    this.steps = new RunSteps(deps);
  }

  async createRun(input: {
    districtId: string;
    trigger: SyncTrigger;
    dryRun: boolean;
    runId?: string;
  }): Promise<{ runId: string }> {
    await this.steps.config(input.districtId);
    const run = await this.steps.runs.create(input);
    return { runId: run.id };
  }

  async startRun(input: { runId: string; workflowId: string }): Promise<{ safeguards: Safeguards }> {
    const { runs } = this.steps;
    const run = await this.steps.run(input.runId);
    const config = await this.steps.config(run.district_id);
    let started: boolean;
    try {
      started = await runs.markRunning(run.id, input.workflowId);
    } catch (err) {
      // The one-running-run-per-district index refused the claim: another run of the district is
      // running. Retryable on purpose: that run finishes, then this one starts.
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      const other = await runs.otherRunning(run.id, run.district_id);
      throw new DomainError(
        RetryableFailureType.RunInProgress,
        `Run ${other?.id ?? '(just finished)'} of this district is still running; runs of one district never overlap.`,
      );
    }
    if (!started) {
      // A reset or replay of a run that already ended (support reset a finished run in the Temporal
      // UI): its outcome, counts, findings and plan are history, so it is refused, never run again.
      const ended = await this.steps.run(run.id);
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

  async stageFile(input: { runId: string }, attemptAt = attemptScheduledAt()): Promise<StageResult> {
    return await stageFile(this.steps, input.runId, attemptAt);
  }

  async planChanges(input: { runId: string }, attemptAt = attemptScheduledAt()): Promise<PlanResult> {
    return await planChanges(this.steps, input.runId, attemptAt);
  }

  async applyChanges(input: { runId: string }, attemptAt = attemptScheduledAt()): Promise<ApplyResult> {
    return await applyChanges(this.steps, input.runId, attemptAt);
  }

  async finishRun(input: {
    runId: string;
    status: Exclude<RunStatus, 'queued' | 'running'>;
    failureType?: string;
    failureMessage?: string;
  }): Promise<void> {
    const run = await this.steps.run(input.runId);
    const recorded = await this.steps.runs.finish(run.id, input.status, {
      type: input.failureType,
      message: input.failureMessage,
    });
    // A held run keeps its staging for the review decision; a final run keeps plan and errors only.
    // A refused finish means the run had already ended: a retry after a crash between the two
    // statements still drops what is left.
    if (input.status !== 'held' || !recorded) await this.steps.staging.drop(run.id);
  }
}
