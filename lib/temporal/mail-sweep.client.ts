import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { MAIL_SWEEP_WORKFLOW_ID, type MailSweepInput } from '../contracts/mail-sweep';

/**
 * Starts the mail sweep unless it runs already (every worker process asks at start; one sweep runs
 * for the namespace). A sweep started with other settings keeps them until it is terminated.
 */
export async function ensureMailSweep(
  client: Client,
  taskQueue: string,
  input: MailSweepInput,
): Promise<void> {
  try {
    await client.workflow.start('mailSweepWorkflow', {
      workflowId: MAIL_SWEEP_WORKFLOW_ID,
      taskQueue,
      args: [input],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}
