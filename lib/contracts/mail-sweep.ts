import { z } from 'zod';

/** The mail sweep workflow (id MAIL_SWEEP_WORKFLOW_ID): pure, imported by workflows/. */
export const MAIL_SWEEP_WORKFLOW_ID = 'mail-sweep';

export const MailSweepInput = z.object({
  /** Time between sweeps. */
  everyMs: z.number().int().min(1000),
  /** Mail younger than this is left to its run's own mail step, which may still be retrying. */
  olderThanMs: z.number().int().min(0),
});
export type MailSweepInput = z.infer<typeof MailSweepInput>;

export const MailSweepResult = z.object({
  runs: z.number().int(),
  sent: z.number().int(),
  stillOwed: z.number().int(),
});
export type MailSweepResult = z.infer<typeof MailSweepResult>;
