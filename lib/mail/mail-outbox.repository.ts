import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';

export interface OutboxMail {
  id: string;
  recipient: string;
  subject: string;
  body: string;
}

export interface NewOutboxMail {
  districtId: string;
  runId: string;
  dedupeKey: string;
  kind: string;
  recipient: string;
  subject: string;
  body: string;
}

/**
 * What became of one claimed mail: sent; refused for good (a 5xx reply: marked failed, never tried
 * again); or not sent this time (a temporary refusal or the server unreachable: left for a retry).
 */
export type DeliveryOutcome =
  { id: string; status: 'sent' } | { id: string; status: 'refused' | 'not_sent'; error: string };

/**
 * The outbox makes mail idempotent: each mail is written once under a dedupe key (a retried
 * activity re-inserts nothing), and only rows neither sent nor failed are delivered.
 */
export class MailOutboxRepository {
  constructor(private readonly pool: Pool) {}

  async enqueue(mails: NewOutboxMail[]): Promise<void> {
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

  /**
   * Claims up to `limit` mails of the run that are neither sent nor failed (leaving out `skip`), hands
   * them to `send`, and records its outcomes, all in one transaction. The rows stay locked (FOR
   * UPDATE) until the outcomes are committed, and another claim skips locked rows (SKIP LOCKED): two
   * attempts of an activity running at once never send the same mail. `send` must not throw: what it
   * sent has to be recorded. Returns how many mails were claimed (0: nothing claimable).
   */
  async claimBatch(
    runId: string,
    kind: string,
    limit: number,
    skip: readonly string[],
    send: (mails: OutboxMail[]) => Promise<DeliveryOutcome[]>,
  ): Promise<number> {
    return await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<OutboxMail>(
        `SELECT id, recipient, subject, body FROM mail_outbox
         WHERE run_id = $1 AND kind = $2 AND sent_at IS NULL AND failed_at IS NULL AND id <> ALL($3::uuid[])
         ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED`,
        [runId, kind, skip, limit],
      );
      const outcomes = rows.length > 0 ? await send(rows) : [];
      await client.query(
        `UPDATE mail_outbox o
         SET attempts = o.attempts + 1,
             sent_at = CASE WHEN u.status = 'sent' THEN now() END,
             failed_at = CASE WHEN u.status = 'refused' THEN now() END,
             last_error = coalesce(left(u.error, 500), o.last_error)
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, status, error)
         WHERE o.id = u.id`,
        [
          outcomes.map((o) => o.id),
          outcomes.map((o) => o.status),
          outcomes.map((o) => (o.status === 'sent' ? null : o.error)),
        ],
      );
      return rows.length;
    });
  }

  /** Mails of the run still to deliver (neither sent nor failed), leaving out `skip`, locked or not. */
  async countPending(runId: string, kind: string, skip: readonly string[]): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM mail_outbox
       WHERE run_id = $1 AND kind = $2 AND sent_at IS NULL AND failed_at IS NULL AND id <> ALL($3::uuid[])`,
      [runId, kind, skip],
    );
    return rows[0].n;
  }

  /**
   * Runs with mail neither sent nor failed that was written more than `olderThanMs` ago: what the
   * runs' own mail steps gave up on (an SMTP outage outlasting their retries). Oldest first.
   */
  async owed(olderThanMs: number, limit: number): Promise<Array<{ runId: string; kind: string }>> {
    const { rows } = await this.pool.query<{ runId: string; kind: string }>(
      `SELECT run_id AS "runId", kind FROM mail_outbox
       WHERE sent_at IS NULL AND failed_at IS NULL AND run_id IS NOT NULL
         AND created_at < now() - make_interval(secs => $1::double precision / 1000)
       GROUP BY run_id, kind ORDER BY min(created_at) LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows;
  }

  /** Whether the run's mails of this kind were written already (a retried step delivers them). */
  async hasAny(runId: string, kind: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ found: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM mail_outbox WHERE run_id = $1 AND kind = $2) AS found',
      [runId, kind],
    );
    return rows[0].found;
  }

  async countSent(runId: string, kind: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM mail_outbox WHERE run_id = $1 AND kind = $2 AND sent_at IS NOT NULL',
      [runId, kind],
    );
    return rows[0].n;
  }

  /** The mails of the run the server refused for good: how many, and the first few with the reply. */
  async refused(
    runId: string,
    kind: string,
    limit: number,
  ): Promise<{ total: number; first: Array<{ recipient: string; error: string }> }> {
    const { rows } = await this.pool.query<{ recipient: string; error: string; total: number }>(
      `SELECT recipient, coalesce(last_error, '') AS error, count(*) OVER ()::int AS total FROM mail_outbox
       WHERE run_id = $1 AND kind = $2 AND failed_at IS NOT NULL ORDER BY recipient LIMIT $3`,
      [runId, kind, limit],
    );
    return { total: rows[0]?.total ?? 0, first: rows.map(({ recipient, error }) => ({ recipient, error })) };
  }
}
