import type { Pool } from 'pg';
import type { MailSweepResult } from '../contracts/mail-sweep';
import { MailDelivery, type MailProgress } from './mail-delivery';
import { MailOutboxRepository } from './mail-outbox.repository';
import type { Mailer } from './mailer';

/** Runs whose owed mail one sweep delivers at most: the next sweep takes the rest. */
const RUNS_PER_SWEEP = 200;

/**
 * Delivers mail that runs' own mail steps left owed: the same delivery through the same outbox, so
 * a mail is never sent twice even when the sweep and a late retry of the run's step meet (each
 * batch is locked while it is sent).
 */
export class MailSweep {
  private readonly outbox: MailOutboxRepository;
  private readonly delivery: MailDelivery;

  constructor(deps: { pool: Pool; mailer: Mailer }) {
    this.outbox = new MailOutboxRepository(deps.pool);
    this.delivery = new MailDelivery(this.outbox, deps.mailer);
  }

  async deliverOwed(olderThanMs: number, progress: MailProgress): Promise<MailSweepResult> {
    const result: MailSweepResult = { runs: 0, sent: 0, stillOwed: 0 };
    for (const { runId, kind } of await this.outbox.owed(olderThanMs, RUNS_PER_SWEEP)) {
      result.runs++;
      try {
        result.sent += (await this.delivery.deliver(runId, kind, progress)).sent;
      } catch (err) {
        if (progress.signal.aborted) throw err;
        // Still not deliverable (the server is still away): the next sweep tries again.
        result.stillOwed++;
        progress.log.warn(`Mail of run ${runId} (${kind}) still owed`, {
          runId,
          kind,
          error: (err as Error).message,
        });
      }
    }
    return result;
  }
}
