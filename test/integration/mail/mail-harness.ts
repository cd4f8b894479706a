import { createSmtpMailer, type Mailer } from '../../../lib/mail/mailer';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { seedDistrictWithConfig } from '../../support/seed';
import { startTestSmtp, type TestSmtp } from '../../support/test-smtp';

/**
 * The mail tests' fixture: a private database with one district and its sync config (`config`
 * names sync_configs columns), a real SMTP server that misbehaves on demand, and the product's
 * mailer pointed at it.
 */
export interface MailHarness {
  db: TestDatabase;
  smtp: TestSmtp;
  mailer: Mailer;
  districtId: string;
  close(): Promise<void>;
}

export async function startMailHarness(
  district: { slug: string; name: string },
  config: Record<string, unknown>,
): Promise<MailHarness> {
  const [db, smtp] = await Promise.all([createTestDatabase(), startTestSmtp()]);
  const mailer = createSmtpMailer(`smtp://127.0.0.1:${smtp.port}`, 'rostersync@example.org');
  const { id: districtId } = await seedDistrictWithConfig(db.pool, config, district);
  return {
    db,
    smtp,
    mailer,
    districtId,
    async close() {
      mailer.close();
      await smtp.close();
      await db.drop();
    },
  };
}
