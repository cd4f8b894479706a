import { continueAsNew, log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { MailSweepActivities } from '../activities/types';
import { MailSweepInput } from '../lib/contracts/mail-sweep';
import { MAIL } from './activity-options';
import { describeFailure, parseInput } from './failure-info';

const { deliverOwedMail } = proxyActivities<MailSweepActivities>(MAIL);

/** Sweeps a few events each: a new execution every so often keeps the history short. */
const SWEEPS_PER_EXECUTION = 200;

/**
 * The mail sweep (one per namespace, id `mail-sweep`): every `everyMs` it delivers the mail that runs'
 * own mail steps gave up on, so mail owed after an SMTP outage outlasting their retries is sent later
 * by itself, and still never twice (docs/notices.md).
 */
export async function mailSweepWorkflow(rawInput: MailSweepInput): Promise<void> {
  const input = parseInput(MailSweepInput, rawInput, 'mail sweep');
  for (let sweep = 0; sweep < SWEEPS_PER_EXECUTION && !workflowInfo().continueAsNewSuggested; sweep++) {
    await sleep(input.everyMs);
    try {
      const result = await deliverOwedMail({ olderThanMs: input.olderThanMs });
      if (result.runs > 0) log.info('Mail sweep', { ...result });
    } catch (err) {
      // The next sweep tries again: the sweep never ends on a failure.
      log.warn('Mail sweep failed; the next one tries again', { error: describeFailure(err).message });
    }
  }
  await continueAsNew<typeof mailSweepWorkflow>(input);
}
