import type { Context } from '@temporalio/activity';
import type { MailProgress } from '../mail/mail-delivery';

/** An activity's context as the progress lib/ code reports to: heartbeats, cancellation, sleep, log. */
export function activityProgress(ctx: Context): MailProgress {
  return {
    heartbeat: (details) => ctx.heartbeat(details),
    signal: ctx.cancellationSignal,
    cancelled: ctx.cancelled,
    sleep: (ms) => ctx.sleep(ms),
    log: ctx.log,
  };
}
