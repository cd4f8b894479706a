import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { SyncRunsRepository } from '../lib/db/repositories/sync-runs.repository';
import {
  type DeliveryOutcome,
  MailOutboxRepository,
  type OutboxMail,
} from '../lib/mail/mail-outbox.repository';
import { MailRefused, SMTP_CONNECTIONS, type Mailer } from '../lib/mail/mailer';
import { NoticeHistoryRepository } from '../lib/mail/notice-history.repository';
import { decideNotice } from '../lib/mail/notice-policy';
import { adminNotice, runOutcome, welcomeMail } from '../lib/mail/run-mail';
import type { SyncActivities } from './types';

export interface MailActivityDeps {
  pool: Pool;
  mailer: Mailer;
  apiBaseUrl: string;
}

/** New users read and written to the outbox per statement: memory stays flat however large the run. */
export const ENQUEUE_CHUNK = 1000;
/**
 * Mails claimed per transaction: what a crash between sending and committing can send twice, and
 * how often the activity heartbeats and looks for cancellation at the least.
 */
export const SEND_BATCH = 20;
/** How long to wait before looking again when another attempt holds the mails still to send. */
const CLAIMED_ELSEWHERE_WAIT_MS = 1000;
/** Refused welcome addresses an admin notice lists by name. */
const REFUSED_LISTED = 10;

/**
 * Mail goes through the outbox: the activity first records every mail it owes (idempotent by dedupe
 * key), then delivers the mails neither sent nor failed, a small batch per transaction
 * (MailOutboxRepository.claimBatch) over a few pooled SMTP connections.
 *
 * - A mail the server refuses for good (5xx) is marked failed with the reply and the others go on.
 * - A temporary refusal (4xx) leaves that mail for a retry and the others go on; the server being
 *   unreachable stops the attempt. Either way the activity then throws and Temporal retries it.
 * - Two attempts never send the same mail (a timed-out attempt still sending while its retry
 *   starts): each batch's rows are locked until they are recorded sent, and a retry waits for them.
 * - Cancellation (a timeout seen by heartbeat, a worker shutting down) stops the attempt after the
 *   mails already handed to the server, which are recorded sent.
 *
 * Delivery is at least once, not exactly once: a worker that dies after the SMTP server accepted a
 * mail and before its batch was committed leaves the mail unsent in the outbox, and the retry sends
 * it again (at most one batch per lost attempt).
 */
export function createMailActivities(
  deps: MailActivityDeps,
): Pick<SyncActivities, 'sendWelcomeEmails' | 'notifyAdmins'> {
  const outbox = new MailOutboxRepository(deps.pool);
  const runs = new SyncRunsRepository(deps.pool);
  const history = new NoticeHistoryRepository(deps.pool);

  /**
   * Sends one claimed batch through SMTP_CONNECTIONS lanes. Never throws: every outcome must be
   * recorded. Stops early when the server is unreachable (the rest of the batch would fail the same
   * way) or the activity is cancelled; the mails it did not get to stay claimable.
   */
  async function sendBatch(
    ctx: Context,
    mails: OutboxMail[],
  ): Promise<{ outcomes: DeliveryOutcome[]; unreachable: boolean }> {
    const outcomes: DeliveryOutcome[] = [];
    const queue = [...mails];
    let unreachable = false;
    const lane = async () => {
      for (let mail = queue.shift(); mail; mail = queue.shift()) {
        if (unreachable || ctx.cancellationSignal.aborted) return;
        try {
          await deps.mailer.send({ to: mail.recipient, subject: mail.subject, text: mail.body });
          outcomes.push({ id: mail.id, status: 'sent' });
        } catch (err) {
          // A refusal is recorded as the server's reply, which is what an admin can act on.
          const error =
            err instanceof MailRefused ? err.reply : err instanceof Error ? err.message : String(err);
          const permanent = err instanceof MailRefused && err.permanent;
          outcomes.push({ id: mail.id, status: permanent ? 'refused' : 'not_sent', error });
          if (!(err instanceof MailRefused)) unreachable = true;
        }
        // A slow server keeps the batch going for a while: each answer proves the worker alive.
        ctx.heartbeat();
      }
    };
    await Promise.all(Array.from({ length: SMTP_CONNECTIONS }, lane));
    return { outcomes, unreachable };
  }

  async function deliver(runId: string, kind: string): Promise<number> {
    const ctx = Context.current();
    // Mails this attempt could not send (a temporary refusal, or the server unreachable), with the
    // reason: left out of this attempt's claims, and tried again by the next attempt.
    const notSent = new Map<string, string>();
    let refused = 0;
    for (;;) {
      let unreachable = false;
      const claimed = await outbox.claimBatch(runId, kind, SEND_BATCH, [...notSent.keys()], async (mails) => {
        const batch = await sendBatch(ctx, mails);
        unreachable = batch.unreachable;
        for (const o of batch.outcomes) {
          if (o.status === 'refused') refused++;
          if (o.status === 'not_sent') notSent.set(o.id, o.error);
        }
        return batch.outcomes;
      });
      ctx.heartbeat({ kind, claimed });
      // Rejects with the cancellation: this attempt stops, what it sent is recorded.
      if (ctx.cancellationSignal.aborted) await ctx.cancelled;
      if (unreachable) break;
      if (claimed > 0) continue;
      // Nothing claimable: done, unless another attempt still holds some of the mails.
      if ((await outbox.countPending(runId, kind, [...notSent.keys()])) === 0) break;
      await ctx.sleep(CLAIMED_ELSEWHERE_WAIT_MS);
    }
    if (refused > 0) {
      ctx.log.warn(`The mail server refused ${refused} ${kind} mail(s) of run ${runId} for good`, {
        runId,
        kind,
        refused,
        see: 'mail_outbox rows with failed_at set; last_error holds the reply',
      });
    }
    if (notSent.size > 0) {
      // Thrown to be retried with backoff; the mails sent so far stay sent.
      const [reason] = notSent.values();
      throw new Error(`${notSent.size} ${kind} mail(s) of run ${runId} not sent yet: ${reason}`);
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
      const outcome = runOutcome(run);
      const recipients = district.notify_emails ?? [];
      if (recipients.length === 0) return { sent: 0 };
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
        return { sent: 0 };
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
      return { sent: await deliver(runId, 'notify') };
    },
  };
}

/**
 * Runs `sql` as a cursor in a read-only transaction and hands `each` its rows `chunk` at a time, so
 * memory holds one chunk whatever the result's size.
 */
async function withCursor<R>(
  pool: Pool,
  sql: string,
  params: unknown[],
  chunk: number,
  each: (rows: R[]) => Promise<void>,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(`DECLARE rows_cursor NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      const { rows } = await client.query(`FETCH ${chunk} FROM rows_cursor`);
      if (rows.length === 0) break;
      await each(rows as R[]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
