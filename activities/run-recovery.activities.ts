import type { Pool } from 'pg';
import type { OpenRuns } from '../lib/contracts/schedule';
import { SyncRunsRepository } from '../lib/db/repositories/sync-runs.repository';
import { StagingRepository } from '../lib/sync/staging.repository';
import { withTypedFailures } from './typed-failure';
import type { SyncActivities } from './types';

/**
 * openRuns: what a district workflow starting afresh must settle (runs a lost execution left open);
 * abandonRun closes one of them.
 */
export function createRunRecoveryActivities(deps: {
  pool: Pool;
}): Pick<SyncActivities, 'openRuns' | 'abandonRun'> {
  const runs = new SyncRunsRepository(deps.pool);
  const staging = new StagingRepository(deps.pool);
  return {
    openRuns: ({ districtId, queuedBefore }) =>
      withTypedFailures(async () => {
        const open = await runs.openForDistrict(districtId, new Date(queuedBefore));
        const held = open.filter((r) => r.status === 'held').at(-1);
        const result: OpenRuns = {
          running: open
            .filter((r) => r.status === 'running')
            .map((r) => ({ runId: r.id, workflowId: r.workflow_id, trigger: r.trigger, dryRun: r.dry_run })),
          queued: open.filter((r) => r.status === 'queued').map((r) => r.id),
          held: held ? { runId: held.id, trigger: held.trigger } : null,
        };
        return result;
      }),
    abandonRun: ({ runId, failureType, failureMessage }) =>
      withTypedFailures(async () => {
        const status = await runs.abandon(runId, { type: failureType, message: failureMessage });
        // A held run keeps its staging for the review; any other run is over.
        if (status !== 'held') await staging.drop(runId);
        return { status: status ?? null };
      }),
  };
}
