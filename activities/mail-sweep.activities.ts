import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { MailSweepResult } from '../lib/contracts/mail-sweep';
import { MailDelivery } from '../lib/mail/mail-delivery';
import { MailOutboxRepository } from '../lib/mail/mail-outbox.repository';
import type { Mailer } from '../lib/mail/mailer';
import { activityProgress } from '../lib/temporal/activity-progress';
import type { MailSweepActivities } from './types';

/** Runs whose owed mail one sweep delivers at most: the next sweep takes the rest. */
const RUNS_PER_SWEEP = 200;

/**
 * The mail sweep's activity: the same delivery as a run's mail step, through the same outbox, so a
 * mail is never sent twice even when the sweep and a late retry of the run's step meet (each batch
 * is locked while it is sent).
 */
export function createMailSweepActivities(deps: { pool: Pool; mailer: Mailer }): MailSweepActivities {
  const outbox = new MailOutboxRepository(deps.pool);
  const delivery = new MailDelivery(outbox, deps.mailer);
  return {
    async deliverOwedMail({ olderThanMs }) {
      const ctx = Context.current();
      const result: MailSweepResult = { runs: 0, sent: 0, stillOwed: 0 };
      for (const { runId, kind } of await outbox.owed(olderThanMs, RUNS_PER_SWEEP)) {
        result.runs++;
        try {
          result.sent += (await delivery.deliver(runId, kind, activityProgress(ctx))).sent;
        } catch (err) {
          if (ctx.cancellationSignal.aborted) throw err;
          // Still not deliverable (the server is still away): the next sweep tries again.
          result.stillOwed++;
          ctx.log.warn(`Mail of run ${runId} (${kind}) still owed`, {
            runId,
            kind,
            error: (err as Error).message,
          });
        }
      }
      return result;
    },
  };
}
