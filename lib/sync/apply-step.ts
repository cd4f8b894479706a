import type { ApplyResult } from '../contracts/sync';
import { isSettled, SyncRunsRepository } from '../db/repositories/sync-runs.repository';
import { withHeartbeat } from '../temporal/heartbeat';
import { ApplyRepository } from './apply.repository';
import { CoachingGroupsRepository } from './coaching-groups.repository';
import type { RunSteps } from './run-steps';
import { verifyStaging } from './verify-staging';

/** Users changed by one apply beyond which the planner's statistics on users are refreshed. */
const STATISTICS_REFRESH_ROWS = 10_000;

/** Applies the run's plan to the district's users and groups in one transaction, at most once. */
export async function applyChanges(steps: RunSteps, runId: string, attemptAt: Date): Promise<ApplyResult> {
  return await steps.guarded(runId, attemptAt, async (guard) => {
    const started = Date.now();
    const run = await steps.run(runId);
    const config = await steps.config(run.district_id);
    if (!isSettled(run) && !run.dry_run) await verifyStaging(steps, run, config, guard);
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
        const now = await steps.run(run.id);
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
