import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { withCursor } from '../lib/db/cursor';
import { type SyncRunRow, SyncRunsRepository } from '../lib/db/repositories/sync-runs.repository';
import { MailDelivery } from '../lib/mail/mail-delivery';
import { MailOutboxRepository } from '../lib/mail/mail-outbox.repository';
import type { Mailer } from '../lib/mail/mailer';
import { NoticeHistoryRepository } from '../lib/mail/notice-history.repository';
import { decideNotice, isFeedStale } from '../lib/mail/notice-policy';
import { adminNotice, runOutcome, staleFeedAlert, welcomeMail } from '../lib/mail/run-mail';
import { activityProgress } from '../lib/temporal/activity-progress';
import type { SyncActivities } from './types';

export interface MailActivityDeps {
  pool: Pool;
  mailer: Mailer;
  apiBaseUrl: string;
}

/** What a run's mail needs of its district and sync config. */
interface District {
  district_id: string;
  name: string;
  welcome_emails: boolean | null;
  notify_emails: string[] | null;
  notify_on_success: boolean | null;
  stale_feed_hours: number | null;
}

/** New users read and written to the outbox per statement: memory stays flat however large the run. */
export const ENQUEUE_CHUNK = 1000;
/** Refused welcome addresses an admin notice lists by name. */
const REFUSED_LISTED = 10;

/**
 * Mail goes through the outbox: the activity first records every mail it owes (idempotent by dedupe
 * key), then delivers the mails neither sent nor failed (lib/mail/mail-delivery.ts: batches, refusals,
 * two attempts never sending the same mail, cancellation). Mail still owed when the activity gives up
 * (an SMTP outage outlasting its retries) is delivered later by the mail sweep.
 */
export function createMailActivities(
  deps: MailActivityDeps,
): Pick<SyncActivities, 'sendWelcomeEmails' | 'notifyAdmins'> {
  const outbox = new MailOutboxRepository(deps.pool);
  const runs = new SyncRunsRepository(deps.pool);
  const history = new NoticeHistoryRepository(deps.pool);
  const delivery = new MailDelivery(outbox, deps.mailer);

  async function deliver(runId: string, kind: string): Promise<number> {
    const ctx = Context.current();
    const { sent, refused } = await delivery.deliver(runId, kind, activityProgress(ctx));
    if (refused > 0) {
      ctx.log.warn(`The mail server refused ${refused} ${kind} mail(s) of run ${runId} for good`, {
        runId,
        kind,
        refused,
        see: 'mail_outbox rows with failed_at set; last_error holds the reply',
      });
    }
    return sent;
  }

  async function districtOf(runId: string): Promise<District> {
    const { rows } = await deps.pool.query<District>(
      `SELECT d.id AS district_id, d.name, c.welcome_emails, c.notify_emails, c.notify_on_success, c.stale_feed_hours
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
      // The users the run created, read through one cursor a chunk at a time: a single scan of the
      // run's users however many there are (a keyset query per chunk would rescan them each time).
      await withCursor(
        deps.pool,
        `SELECT id, email, first_name FROM users
         WHERE created_by_run = $1 AND email IS NOT NULL AND status = 'active'`,
        [runId],
        ENQUEUE_CHUNK,
        async (created: Array<{ id: string; email: string; first_name: string }>) => {
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
          Context.current().heartbeat({ kind: 'welcome', enqueued: created.length });
        },
      );
      return { sent: await deliver(runId, 'welcome') };
    },

    async notifyAdmins({ runId }) {
      const district = await districtOf(runId);
      const run = await runs.get(runId);
      if (!run) throw new Error(`Run ${runId} does not exist`);
      const recipients = district.notify_emails ?? [];
      if (recipients.length === 0) return { sent: 0 };
      const stale = await alertStaleFeed(run, district, recipients);
      return { sent: stale + (await noticeOutcome(run, district, recipients)) };
    },
  };

  /** The stale-feed alert a scheduled run raises, once per stale file; returns the mails sent. */
  async function alertStaleFeed(run: SyncRunRow, district: District, recipients: string[]): Promise<number> {
    // As of the run, not of the mail step: a retry decides the same, and the files of runs
    // created after it do not count.
    const file = await runs.currentFile(district.district_id, run.created_at);
    const stale = isFeedStale({
      trigger: run.trigger,
      staleFeedHours: district.stale_feed_hours,
      fileFirstReadAt: file?.firstReadAt ?? null,
      now: run.created_at,
    });
    if (!stale || !file || district.stale_feed_hours === null) return 0;
    const alert = staleFeedAlert({
      districtName: district.name,
      districtId: district.district_id,
      hours: district.stale_feed_hours,
      file,
      apiBaseUrl: deps.apiBaseUrl,
    });
    await outbox.enqueue(
      recipients.map((recipient) => ({
        districtId: district.district_id,
        runId: run.id,
        // One alert per stale file, whichever run notices it first.
        dedupeKey: `stale:${district.district_id}:${file.sha256}:${recipient}`,
        kind: 'stale',
        recipient,
        subject: alert.subject,
        body: alert.body,
      })),
    );
    return await deliver(run.id, 'stale');
  }

  /** The run's own notice, as the notice policy decides; returns the mails sent. */
  async function noticeOutcome(run: SyncRunRow, district: District, recipients: string[]): Promise<number> {
    const runId = run.id;
    const outcome = runOutcome(run);
    const refusedWelcomes = await outbox.refused(runId, 'welcome', REFUSED_LISTED);
    // Decided once: a retried step delivers what the first attempt wrote to the outbox.
    const owed = await outbox.hasAny(runId, 'notify');
    const decision = owed
      ? { send: true as const }
      : decideNotice({
          outcome,
          failureType: run.failure_type,
          fileSha256: run.file_sha256,
          notifyOnSuccess: district.notify_on_success === true,
          refusedWelcomes: refusedWelcomes.total,
          previous: await history.previousRun(runId),
          lastNoticeOfSameFailure: await history.lastNoticeOfSameFailure(runId),
          now: new Date(),
        });
    if (!decision.send) {
      Context.current().log.info(`No admin notice for run ${runId}: ${decision.reason}`, { runId });
      return 0;
    }
    // Errors and warnings counted apart: a warning is no problem with the row.
    const { rows: top } = await deps.pool.query<{ code: string; warning: boolean; count: number }>(
      `SELECT code, warning, count FROM (
           SELECT code, severity = 'warning' AS warning, count(*)::int AS count,
                  row_number() OVER (PARTITION BY severity = 'warning' ORDER BY count(*) DESC, code) AS rank
           FROM run_errors WHERE run_id = $1 GROUP BY code, severity = 'warning'
         ) t WHERE rank <= 5 ORDER BY warning, rank`,
      [runId],
    );
    const notice = adminNotice({
      districtName: district.name,
      run,
      outcome,
      apiBaseUrl: deps.apiBaseUrl,
      topErrors: top.filter((t) => !t.warning).map(({ code, count }) => ({ code, count })),
      topWarnings: top.filter((t) => t.warning).map(({ code, count }) => ({ code, count })),
      refusedWelcomes,
      recoveredFrom: 'recoveredFrom' in decision ? decision.recoveredFrom : undefined,
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
    return await deliver(runId, 'notify');
  }
}
