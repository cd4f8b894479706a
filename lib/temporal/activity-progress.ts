import type { Context } from '@temporalio/activity';
import type { DeliveryProgress } from '../mail/mail-delivery';

/** An activity's context as the progress lib/ code reports to: heartbeats, cancellation, sleep. */
export function activityProgress(ctx: Context): DeliveryProgress {
  return {
    heartbeat: (details) => ctx.heartbeat(details),
    signal: ctx.cancellationSignal,
    cancelled: ctx.cancelled,
    sleep: (ms) => ctx.sleep(ms),
  };
}
