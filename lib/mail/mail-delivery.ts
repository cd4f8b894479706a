import type { DeliveryOutcome, MailOutboxRepository, OutboxMail } from './mail-outbox.repository';
import { MailRefused, SMTP_CONNECTIONS, type Mailer } from './mailer';

/**
 * Mails claimed per transaction: what a crash between sending and committing can send twice, and
 * how often delivery reports progress and looks for cancellation at the least.
 */
export const SEND_BATCH = 20;
/** How long to wait before looking again when another attempt holds the mails still to send. */
const CLAIMED_ELSEWHERE_WAIT_MS = 1000;

/** How delivery reports that it is alive and learns that it must stop (a Temporal activity's context). */
export interface DeliveryProgress {
  heartbeat(details?: unknown): void;
  readonly signal: AbortSignal;
  /** Rejects once cancelled: awaited to stop an attempt with the cancellation. */
  readonly cancelled: Promise<never>;
  sleep(ms: number): Promise<void>;
}

/** The worker's log, as the mail steps write to it. */
export interface MailLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** A mail step's progress: delivery's, and the log it reports to. */
export interface MailProgress extends DeliveryProgress {
  readonly log: MailLog;
}

export interface DeliveryResult {
  sent: number;
  refused: number;
}

/** Thrown when some mails could not be sent this time: the caller retries later; the rest stay sent. */
export class MailNotSentYet extends Error {}

/**
 * Delivers a run's mails of one kind from the outbox, a small batch per transaction
 * (MailOutboxRepository.claimBatch) over a few pooled SMTP connections.
 *
 * - A mail the server refuses for good (5xx) is marked failed with the reply and the others go on.
 * - A temporary refusal (4xx) leaves that mail for a retry and the others go on; the server being
 *   unreachable stops the attempt. Either way MailNotSentYet is thrown at the end.
 * - Two attempts never send the same mail (a timed-out attempt still sending while its retry or the
 *   sweep starts): each batch's rows are locked until they are recorded sent, and the other waits.
 * - Cancellation stops the attempt after the mails already handed to the server, recorded sent.
 *
 * Delivery is at least once, not exactly once: a worker that dies after the SMTP server accepted a
 * mail and before its batch was committed leaves the mail unsent, and the retry sends it again (at
 * most one batch per lost attempt).
 */
export class MailDelivery {
  constructor(
    private readonly outbox: MailOutboxRepository,
    private readonly mailer: Mailer,
  ) {}

  /** Delivers as `deliver` does and logs the mails refused for good; returns the mails sent. */
  async deliverReported(runId: string, kind: string, progress: MailProgress): Promise<number> {
    const { sent, refused } = await this.deliver(runId, kind, progress);
    if (refused > 0) {
      progress.log.warn(`The mail server refused ${refused} ${kind} mail(s) of run ${runId} for good`, {
        runId,
        kind,
        refused,
        see: 'mail_outbox rows with failed_at set; last_error holds the reply',
      });
    }
    return sent;
  }

  async deliver(runId: string, kind: string, progress: DeliveryProgress): Promise<DeliveryResult> {
    // Mails this attempt could not send (a temporary refusal, or the server unreachable), with the
    // reason: left out of this attempt's claims, and tried again by the next attempt.
    const notSent = new Map<string, string>();
    let refused = 0;
    for (;;) {
      let unreachable = false;
      const claimed = await this.outbox.claimBatch(
        runId,
        kind,
        SEND_BATCH,
        [...notSent.keys()],
        async (mails) => {
          const batch = await this.sendBatch(progress, mails);
          unreachable = batch.unreachable;
          for (const o of batch.outcomes) {
            if (o.status === 'refused') refused++;
            if (o.status === 'not_sent') notSent.set(o.id, o.error);
          }
          return batch.outcomes;
        },
      );
      progress.heartbeat({ kind, claimed });
      // Rejects with the cancellation: this attempt stops, what it sent is recorded.
      if (progress.signal.aborted) await progress.cancelled;
      if (unreachable) break;
      if (claimed > 0) continue;
      // Nothing claimable: done, unless another attempt still holds some of the mails.
      if ((await this.outbox.countPending(runId, kind, [...notSent.keys()])) === 0) break;
      await progress.sleep(CLAIMED_ELSEWHERE_WAIT_MS);
    }
    if (notSent.size > 0) {
      const [reason] = notSent.values();
      throw new MailNotSentYet(`${notSent.size} ${kind} mail(s) of run ${runId} not sent yet: ${reason}`);
    }
    return { sent: await this.outbox.countSent(runId, kind), refused };
  }

  /**
   * Sends one claimed batch through SMTP_CONNECTIONS lanes. Never throws: every outcome must be
   * recorded. Stops early when the server is unreachable (the rest of the batch would fail the same
   * way) or the attempt is cancelled; the mails it did not get to stay claimable.
   */
  private async sendBatch(
    progress: DeliveryProgress,
    mails: OutboxMail[],
  ): Promise<{ outcomes: DeliveryOutcome[]; unreachable: boolean }> {
    const outcomes: DeliveryOutcome[] = [];
    const queue = [...mails];
    let unreachable = false;
    const lane = async () => {
      for (let mail = queue.shift(); mail; mail = queue.shift()) {
        if (unreachable || progress.signal.aborted) return;
        try {
          await this.mailer.send({ to: mail.recipient, subject: mail.subject, text: mail.body });
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
        progress.heartbeat();
      }
    };
    await Promise.all(Array.from({ length: SMTP_CONNECTIONS }, lane));
    return { outcomes, unreachable };
  }
}
