import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { type DistrictSchedule, type DistrictStatus, type DistrictSyncInput } from '../contracts/schedule';
import {
  districtWorkflowId,
  QUERIES,
  type ReviewDecisionSignal,
  SIGNALS,
  type SyncNowSignal,
} from '../contracts/sync';
import { DistrictIdKey } from './search-attributes';

const WORKFLOW_TYPE = 'districtSyncWorkflow';

/**
 * How the API and the SFTP server talk to a district's workflow. Every call is addressed by the
 * business id `district-sync:<districtId>`; starting twice is success, and the signalling calls
 * start the workflow if it is not running (signalWithStart), so a lost start never loses a trigger.
 */
export class DistrictSyncClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly opts: { catchUpWindowHours?: number } = {},
  ) {}

  private startOptions(districtId: string, schedule: DistrictSchedule) {
    const input: DistrictSyncInput = { districtId, schedule };
    if (this.opts.catchUpWindowHours !== undefined) input.catchUpWindowHours = this.opts.catchUpWindowHours;
    return {
      workflowId: districtWorkflowId(districtId),
      taskQueue: this.taskQueue,
      args: [input] as [DistrictSyncInput],
      typedSearchAttributes: [{ key: DistrictIdKey, value: districtId }],
    };
  }

  async ensureStarted(districtId: string, schedule: DistrictSchedule): Promise<void> {
    try {
      await this.client.workflow.start(WORKFLOW_TYPE, this.startOptions(districtId, schedule));
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  }

  async configChanged(districtId: string, schedule: DistrictSchedule): Promise<void> {
    await this.client.workflow.signalWithStart(WORKFLOW_TYPE, {
      ...this.startOptions(districtId, schedule),
      signal: SIGNALS.configChanged,
      signalArgs: [schedule],
    });
  }

  async syncNow(districtId: string, signal: SyncNowSignal, schedule: DistrictSchedule): Promise<void> {
    await this.client.workflow.signalWithStart(WORKFLOW_TYPE, {
      ...this.startOptions(districtId, schedule),
      signal: SIGNALS.syncNow,
      signalArgs: [signal],
    });
  }

  /** false when no workflow runs for the district (nothing configured yet): the upload just waits. */
  async fileArrived(districtId: string, path: string): Promise<boolean> {
    try {
      await this.client.workflow
        .getHandle(districtWorkflowId(districtId))
        .signal(SIGNALS.fileArrived, { path });
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async review(districtId: string, decision: ReviewDecisionSignal): Promise<void> {
    await this.client.workflow
      .getHandle(districtWorkflowId(districtId))
      .signal(SIGNALS.reviewDecision, decision);
  }

  /** null when no workflow runs for the district. */
  async status(districtId: string): Promise<DistrictStatus | null> {
    try {
      return await this.client.workflow
        .getHandle(districtWorkflowId(districtId))
        .query<DistrictStatus>(QUERIES.status);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }
}
