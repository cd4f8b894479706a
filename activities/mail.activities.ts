import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { AdminNoticeSender } from '../lib/mail/admin-notice-sender';
import type { Mailer } from '../lib/mail/mailer';
import { WelcomeMailSender } from '../lib/mail/welcome-mail-sender';
import { activityProgress } from '../lib/temporal/activity-progress';
import type { SyncActivities } from './types';

export interface MailActivityDeps {
  pool: Pool;
  mailer: Mailer;
  apiBaseUrl: string;
}

/**
 * A run's mail steps (lib/mail): each records the mail it owes in the outbox, then delivers it.
 * Mail still owed when the activity gives up (an SMTP outage outlasting its retries) is delivered
 * later by the mail sweep.
 */
export function createMailActivities(
  deps: MailActivityDeps,
): Pick<SyncActivities, 'sendWelcomeEmails' | 'notifyAdmins'> {
  const welcome = new WelcomeMailSender(deps);
  const notices = new AdminNoticeSender(deps);
  return {
    async sendWelcomeEmails({ runId }) {
      return { sent: await welcome.send(runId, activityProgress(Context.current())) };
    },
    async notifyAdmins({ runId }) {
      return { sent: await notices.send(runId, activityProgress(Context.current())) };
    },
  };
}
