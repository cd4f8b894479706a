import type { Pool } from 'pg';
import { MailDelivery, type MailProgress } from './mail-delivery';
import { MailOutboxRepository } from './mail-outbox.repository';
import type { Mailer } from './mailer';
import { RunMailDataRepository } from './run-mail-data.repository';
import { welcomeMail } from './run-mail';

/** New users read and written to the outbox per statement: memory stays flat however large the run. */
export const ENQUEUE_CHUNK = 1000;

/**
 * The welcome mail of every user a run created, when the district's config asks for it: first
 * recorded in the outbox (idempotent by dedupe key), then delivered (lib/mail/mail-delivery.ts).
 */
export class WelcomeMailSender {
  private readonly outbox: MailOutboxRepository;
  private readonly data: RunMailDataRepository;
  private readonly delivery: MailDelivery;

  constructor(deps: { pool: Pool; mailer: Mailer }) {
    this.outbox = new MailOutboxRepository(deps.pool);
    this.data = new RunMailDataRepository(deps.pool);
    this.delivery = new MailDelivery(this.outbox, deps.mailer);
  }

  /** Returns the welcome mails of the run sent so far. */
  async send(runId: string, progress: MailProgress): Promise<number> {
    const district = await this.data.districtOf(runId);
    if (!district) throw new Error(`Run ${runId} does not exist`);
    if (!district.welcome_emails) return 0;
    await this.data.eachCreatedUser(runId, ENQUEUE_CHUNK, async (created) => {
      await this.outbox.enqueue(
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
      progress.heartbeat({ kind: 'welcome', enqueued: created.length });
    });
    return await this.delivery.deliverReported(runId, 'welcome', progress);
  }
}
