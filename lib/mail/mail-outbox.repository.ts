import type { Pool } from 'pg';

export interface OutboxMail {
  id: string;
  recipient: string;
  subject: string;
  body: string;
}

/**
 * The outbox makes mail idempotent: each mail is written once under a dedupe key (a retried
 * activity re-inserts nothing), and only rows not yet marked sent are delivered.
 */
export class MailOutboxRepository {
  constructor(private readonly pool: Pool) {}

  async enqueue(
    mails: Array<{
      districtId: string;
      runId: string;
      dedupeKey: string;
      kind: string;
      recipient: string;
      subject: string;
      body: string;
    }>,
  ): Promise<void> {
    if (mails.length === 0) return;
    await this.pool.query(
      `INSERT INTO mail_outbox (district_id, run_id, dedupe_key, kind, recipient, subject, body)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       ON CONFLICT (dedupe_key) DO NOTHING`,
      [
        mails.map((m) => m.districtId),
        mails.map((m) => m.runId),
        mails.map((m) => m.dedupeKey),
        mails.map((m) => m.kind),
        mails.map((m) => m.recipient),
        mails.map((m) => m.subject),
        mails.map((m) => m.body),
      ],
    );
  }

  async unsent(runId: string, kind: string, limit: number): Promise<OutboxMail[]> {
    const { rows } = await this.pool.query<OutboxMail>(
      `SELECT id, recipient, subject, body FROM mail_outbox
       WHERE run_id = $1 AND kind = $2 AND sent_at IS NULL ORDER BY created_at, id LIMIT $3`,
      [runId, kind, limit],
    );
    return rows;
  }

  async markSent(id: string): Promise<void> {
    await this.pool.query('UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1', [
      id,
    ]);
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.pool.query('UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
      id,
      error.slice(0, 500),
    ]);
  }

  async countSent(runId: string, kind: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM mail_outbox WHERE run_id = $1 AND kind = $2 AND sent_at IS NOT NULL',
      [runId, kind],
    );
    return rows[0].n;
  }
}
