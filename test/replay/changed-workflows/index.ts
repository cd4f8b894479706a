import { proxyActivities } from '@temporalio/workflow';
import type { SyncActivities } from '../../../activities/types';
import type { SyncRunResult, SyncRunWorkflowInput } from '../../../lib/contracts/schedule';
import { syncRunWorkflow as original } from '../../../workflows/sync-run.workflow';

export { districtSyncWorkflow } from '../../../workflows/district-sync.workflow';

const { notifyAdmins } = proxyActivities<Pick<SyncActivities, 'notifyAdmins'>>({
  startToCloseTimeout: '1 minute',
});

/**
 * A deliberately INCOMPATIBLE change, for the replay test only: tell admins a run starts before
 * doing anything else, without patched(). Histories recorded by the real code must fail to replay.
 */
export async function syncRunWorkflow(input: SyncRunWorkflowInput): Promise<SyncRunResult> {
  await notifyAdmins({ runId: input.runId });
  return await original(input);
}
