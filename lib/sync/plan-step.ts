import type { PlanResult } from '../contracts/sync';
import { isSettled } from '../db/repositories/sync-runs.repository';
import { withHeartbeat } from '../temporal/heartbeat';
import type { RunSteps } from './run-steps';
import { verifyStaging } from './verify-staging';

/** Diffs the run's verified staging against the district's users, and records the plan's counts. */
export async function planChanges(steps: RunSteps, runId: string, attemptAt: Date): Promise<PlanResult> {
  return await steps.guarded(runId, attemptAt, async (guard) => {
    const started = Date.now();
    const run = await steps.run(runId);
    const previousRowCount = await steps.runs.lastAppliedRowCount(run.district_id, run.id);
    if (isSettled(run)) {
      // Applied or ended (a retry, replay or reset repeated this step): the stored plan is the
      // plan, and users changed since.
      const counts = await steps.plans.counts(run.id);
      return {
        ...counts,
        unchanged: run.unchanged_count ?? 0,
        activeBefore: run.active_before ?? 0,
        previousRowCount,
      };
    }
    const config = await steps.config(run.district_id);
    await verifyStaging(steps, run, config, guard);
    const activeBefore = await steps.plans.activeUsers(run.district_id);
    const counts = await withHeartbeat('planning', () =>
      steps.plans.plan(run.id, run.district_id, config.matchingKey, guard.fence),
    );
    const unchanged = Math.max(0, (run.rows_valid ?? 0) - counts.create - counts.update - counts.reactivate);
    const samples = await steps.plans.samples(run.id);
    await steps.recordGuarded(
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
