import { patched, proxyActivities } from '@temporalio/workflow';
import type { SyncActivities } from '../../../activities/types';
import type { SyncRunResult, SyncRunWorkflowInput } from '../../../lib/contracts/schedule';
import { syncRunWorkflow as original } from '../../../workflows/sync-run.workflow';

export { districtSyncWorkflow } from '../../../workflows/district-sync.workflow';

const { notifyAdmins } = proxyActivities<Pick<SyncActivities, 'notifyAdmins'>>({
  startToCloseTimeout: '1 minute',
});

/**
 * The same change done the way docs/runbook.md describes: behind patched(), so runs already in
 * flight (the recorded histories) keep their old path and only new runs take the new one.
 */
export async function syncRunWorkflow(input: SyncRunWorkflowInput): Promise<SyncRunResult> {
  if (patched('notify-admins-on-start')) await notifyAdmins({ runId: input.runId });
  return await original(input);
}
