import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { MailSweep } from '../lib/mail/mail-sweep';
import type { Mailer } from '../lib/mail/mailer';
import { activityProgress } from '../lib/temporal/activity-progress';
import type { MailSweepActivities } from './types';

/** The mail sweep's activity (workflows/mail-sweep.workflow.ts): lib/mail/mail-sweep.ts delivers. */
export function createMailSweepActivities(deps: { pool: Pool; mailer: Mailer }): MailSweepActivities {
  const sweep = new MailSweep(deps);
  return {
    async deliverOwedMail({ olderThanMs }) {
      return await sweep.deliverOwed(olderThanMs, activityProgress(Context.current()));
    },
  };
}
