import type { Pool } from 'pg';
import { SyncRunsRepository } from '../lib/db/repositories/sync-runs.repository';
import { MailOutboxRepository } from '../lib/mail/mail-outbox.repository';
import type { Mailer } from '../lib/mail/mailer';
import { adminNotice, runOutcome, welcomeMail } from '../lib/mail/run-mail';
import type { SyncActivities } from './types';

export interface MailActivityDeps {
  pool: Pool;
  mailer: Mailer;
  apiBaseUrl: string;
}

const SEND_BATCH = 200;

/**
 * Mail goes through the outbox: the activity first records every mail it owes (idempotent by dedupe
 * key), then delivers what is not yet sent. A retry after a crash resumes delivery; it never
 * re-sends a mail already marked sent.
 */
export function createMailActivities(
  deps: MailActivityDeps,
): Pick<SyncActivities, 'sendWelcomeEmails' | 'notifyAdmins'> {
  const outbox = new MailOutboxRepository(deps.pool);
  const runs = new SyncRunsRepository(deps.pool);

  async function deliver(runId: string, kind: string): Promise<number> {
    for (;;) {
      const batch = await outbox.unsent(runId, kind, SEND_BATCH);
      if (batch.length === 0) break;
      for (const mail of batch) {
        try {
          await deps.mailer.send({ to: mail.recipient, subject: mail.subject, text: mail.body });
          await outbox.markSent(mail.id);
        } catch (err) {
          await outbox.markFailed(mail.id, err instanceof Error ? err.message : String(err));
          throw err; // retried by Temporal with backoff; sent mails stay sent
        }
      }
    }
    return await outbox.countSent(runId, kind);
  }

  async function districtOf(runId: string) {
    const { rows } = await deps.pool.query<{
      district_id: string;
      name: string;
      welcome_emails: boolean | null;
      notify_emails: string[] | null;
      notify_on_success: boolean | null;
    }>(
      `SELECT d.id AS district_id, d.name, c.welcome_emails, c.notify_emails, c.notify_on_success
       FROM sync_runs r JOIN districts d ON d.id = r.district_id LEFT JOIN sync_configs c ON c.district_id = d.id
       WHERE r.id = $1`,
      [runId],
    );
    if (!rows[0]) throw new Error(`Run ${runId} does not exist`);
    return rows[0];
  }

  return {
    async sendWelcomeEmails({ runId }) {
      const district = await districtOf(runId);
      if (!district.welcome_emails) return { sent: 0 };
      const { rows: created } = await deps.pool.query<{ id: string; email: string; first_name: string }>(
        `SELECT id, email, first_name FROM users WHERE created_by_run = $1 AND email IS NOT NULL AND status = 'active'`,
        [runId],
      );
      await outbox.enqueue(
        created.map((user) => {
          const mail = welcomeMail({
            districtName: district.name,
            firstName: user.first_name,
            email: user.email,
          });
          return {
            districtId: district.district_id,
            runId,
            dedupeKey: `welcome:${user.id}`,
            kind: 'welcome',
            recipient: user.email,
            subject: mail.subject,
            body: mail.body,
          };
        }),
      );
      return { sent: await deliver(runId, 'welcome') };
    },

    async notifyAdmins({ runId }) {
      const district = await districtOf(runId);
      const run = await runs.get(runId);
      if (!run) throw new Error(`Run ${runId} does not exist`);
      const outcome = runOutcome(run);
      const recipients = district.notify_emails ?? [];
      // Failures and held runs always notify; successes only when the district asked for it.
      if (
        recipients.length === 0 ||
        (outcome !== 'failed' && outcome !== 'held' && !district.notify_on_success)
      ) {
        return { sent: 0 };
      }
      const { rows: topErrors } = await deps.pool.query<{ code: string; count: number }>(
        `SELECT code, count(*)::int AS count FROM run_errors WHERE run_id = $1 GROUP BY code ORDER BY count DESC, code LIMIT 5`,
        [runId],
      );
      const notice = adminNotice({
        districtName: district.name,
        run,
        outcome,
        apiBaseUrl: deps.apiBaseUrl,
        topErrors,
      });
      await outbox.enqueue(
        recipients.map((recipient) => ({
          districtId: district.district_id,
          runId,
          dedupeKey: `notify:${runId}:${outcome}:${recipient}`,
          kind: 'notify',
          recipient,
          subject: notice.subject,
          body: notice.body,
        })),
      );
      return { sent: await deliver(runId, 'notify') };
    },
  };
}
