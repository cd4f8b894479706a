import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMailActivities } from '../../../activities/mail.activities';
import { ENQUEUE_CHUNK } from '../../../lib/mail/welcome-mail-sender';
import { SEND_BATCH } from '../../../lib/mail/mail-delivery';
import { type Mailer, SMTP_CONNECTIONS } from '../../../lib/mail/mailer';
import type { TestDatabase } from '../../support/postgres';
import type { TestSmtp } from '../../support/test-smtp';
import { type MailHarness, startMailHarness } from './mail-harness';

/**
 * The mail activities over a real Postgres outbox and a real SMTP server that refuses, stalls or
 * counts on demand, run in an activity context (heartbeats, cancellation) as the worker runs them.
 */
describe('welcome and admin mail delivery', () => {
  let h: MailHarness;
  let db: TestDatabase;
  let smtp: TestSmtp;
  let mailer: Mailer;
  let districtId: string;
  const ADMIN = 'it-admin@springfield.example.org';

  before(async () => {
    h = await startMailHarness(
      { slug: 'springfield', name: 'Springfield Public Schools' },
      { welcome_emails: true, notify_emails: [ADMIN], notify_on_success: true },
    );
    ({ db, smtp, mailer, districtId } = h);
  });

  after(async () => {
    await h?.close();
  });

  beforeEach(() => {
    smtp.received.length = 0;
    smtp.rejectForGood.clear();
    smtp.rejectForNow.clear();
    smtp.dataDelayMs = 0;
  });

  const activities = () => createMailActivities({ pool: db.pool, mailer, apiBaseUrl: 'http://api' });

  /** An applied run that created `count` users (first names `firstName(i)`), as applyChanges leaves it. */
  async function runCreating(count: number, firstName: (i: number) => string = (i) => `User${i}`) {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO sync_runs (district_id, trigger, status, applied_at, created_count) VALUES ($1, 'sync_now', 'succeeded', now(), $2) RETURNING id`,
      [districtId, count],
    );
    const runId = rows[0].id;
    const tag = crypto.randomBytes(3).toString('hex');
    const emails = Array.from({ length: count }, (_, i) => `u${i}-${tag}@springfield.example.org`);
    await db.pool.query(
      `INSERT INTO users (district_id, email, first_name, created_by_run)
       SELECT $1, e, f, $4 FROM unnest($2::text[], $3::text[]) AS t(e, f)`,
      [districtId, emails, emails.map((_, i) => firstName(i)), runId],
    );
    return { runId, emails };
  }

  /** Runs an activity as the worker does: in a context that records heartbeats and can be cancelled. */
  function attempt() {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    return { env, beats };
  }

  const welcomesTo = (email: string) => smtp.to(email).filter((m) => /^Welcome/.test(m.subject));

  async function outboxRow(runId: string, recipient: string) {
    const { rows } = await db.pool.query<{
      sent_at: Date | null;
      failed_at: Date | null;
      last_error: string | null;
      attempts: number;
    }>(
      `SELECT sent_at, failed_at, last_error, attempts FROM mail_outbox WHERE run_id = $1 AND recipient = $2`,
      [runId, recipient],
    );
    return rows[0];
  }

  it('a 550 for one address does not stop the others; that mail is marked failed and the admin is told', async () => {
    const { runId, emails } = await runCreating(6);
    const bad = emails[1];
    smtp.rejectForGood.add(bad);
    const result = await attempt().env.run(activities().sendWelcomeEmails, { runId });
    assert.deepEqual(result, { sent: 5 });
    for (const email of emails) assert.equal(welcomesTo(email).length, email === bad ? 0 : 1, email);

    const row = await outboxRow(runId, bad);
    assert.ok(row.failed_at, 'the refused mail is marked failed');
    assert.equal(row.sent_at, null);
    assert.match(row.last_error ?? '', /550 5\.1\.1 No such user/);

    // A retry (or a second run of the step) neither re-sends nor re-tries the refused address.
    smtp.rejectForGood.clear();
    assert.deepEqual(await attempt().env.run(activities().sendWelcomeEmails, { runId }), { sent: 5 });
    assert.equal(welcomesTo(bad).length, 0);
    assert.equal((await outboxRow(runId, bad)).attempts, 1);

    await attempt().env.run(activities().notifyAdmins, { runId });
    const [notice] = smtp.to(ADMIN);
    assert.equal(notice.subject, '[rostersync] Springfield Public Schools: sync succeeded');
    assert.match(
      notice.text,
      new RegExp(`refused \\(1\\); check these addresses:\\n {2}${bad}: 550 5\\.1\\.1 No such user`),
    );
  });

  it('refused welcomes reach the admin even when the district asked for no success notices', async () => {
    await db.pool.query('UPDATE sync_configs SET notify_on_success = false WHERE district_id = $1', [
      districtId,
    ]);
    try {
      const quiet = await runCreating(2);
      await attempt().env.run(activities().sendWelcomeEmails, { runId: quiet.runId });
      assert.deepEqual(await attempt().env.run(activities().notifyAdmins, { runId: quiet.runId }), {
        sent: 0,
      });

      const { runId, emails } = await runCreating(3);
      smtp.rejectForGood.add(emails[2]);
      await attempt().env.run(activities().sendWelcomeEmails, { runId });
      assert.deepEqual(await attempt().env.run(activities().notifyAdmins, { runId }), { sent: 1 });
      const [notice] = smtp.to(ADMIN);
      assert.match(notice.text, new RegExp(`refused \\(1\\); check these addresses:\\n {2}${emails[2]}`));
    } finally {
      await db.pool.query('UPDATE sync_configs SET notify_on_success = true WHERE district_id = $1', [
        districtId,
      ]);
    }
  });

  it('a 450 for one address does not stop the others; that one goes out on the retry', async () => {
    const { runId, emails } = await runCreating(4);
    const busy = emails[0];
    smtp.rejectForNow.add(busy);
    await assert.rejects(
      attempt().env.run(activities().sendWelcomeEmails, { runId }),
      /1 welcome mail\(s\) of run .* not sent yet: .*450/,
    );
    for (const email of emails) assert.equal(welcomesTo(email).length, email === busy ? 0 : 1);
    assert.equal((await outboxRow(runId, busy)).failed_at, null, 'a temporary refusal is not a failure');

    smtp.rejectForNow.clear();
    assert.deepEqual(await attempt().env.run(activities().sendWelcomeEmails, { runId }), { sent: 4 });
    for (const email of emails) assert.equal(welcomesTo(email).length, 1);
  });

  it('two attempts at once (a timed-out attempt still sending while its retry runs) send each welcome once', async () => {
    const { runId, emails } = await runCreating(60);
    smtp.dataDelayMs = 10;
    const [first, second] = await Promise.all([
      attempt().env.run(activities().sendWelcomeEmails, { runId }),
      attempt().env.run(activities().sendWelcomeEmails, { runId }),
    ]);
    assert.deepEqual([first, second], [{ sent: 60 }, { sent: 60 }]);
    for (const email of emails) assert.equal(welcomesTo(email).length, 1, email);
    // A reset or replay of the step later finds everything sent.
    assert.deepEqual(await attempt().env.run(activities().sendWelcomeEmails, { runId }), { sent: 60 });
    assert.equal(smtp.received.length, 60);
  });

  it('a cancelled attempt stops sending; the next one sends the rest, each welcome once', async () => {
    const { runId, emails } = await runCreating(150);
    smtp.dataDelayMs = 15;
    const { env } = attempt();
    const running = env.run(activities().sendWelcomeEmails, { runId });
    while (smtp.received.length < 30) await new Promise((r) => setTimeout(r, 5));
    env.cancel();
    await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure);
    const sentBeforeStop = smtp.received.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smtp.received.length, sentBeforeStop, 'nothing is sent after the attempt stopped');
    assert.ok(sentBeforeStop < 150);
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM mail_outbox WHERE run_id = $1 AND sent_at IS NOT NULL`,
      [runId],
    );
    assert.equal(rows[0].n, sentBeforeStop, 'every mail the server accepted is recorded sent');

    smtp.dataDelayMs = 0;
    assert.deepEqual(await attempt().env.run(activities().sendWelcomeEmails, { runId }), { sent: 150 });
    for (const email of emails) assert.equal(welcomesTo(email).length, 1, email);
  });

  it('a run creating thousands of users welcomes each once, in bounded batches over a few connections', async () => {
    const count = 3000;
    const { runId, emails } = await runCreating(count);
    const connectionsBefore = smtp.connections;
    const { env, beats } = attempt();
    assert.deepEqual(await env.run(activities().sendWelcomeEmails, { runId }), { sent: count });

    const seen = new Map<string, number>();
    for (const m of smtp.received) for (const to of m.to) seen.set(to, (seen.get(to) ?? 0) + 1);
    assert.equal(seen.size, count);
    assert.ok(
      emails.every((e) => seen.get(e) === 1),
      'each new user got exactly one welcome',
    );
    // Pooled: a few connections at once, a new one per 100 mails (nodemailer's default), not per mail.
    assert.ok(smtp.maxOpen <= SMTP_CONNECTIONS, `${smtp.maxOpen} connections open at once`);
    assert.ok(smtp.connections - connectionsBefore <= count / 100 + SMTP_CONNECTIONS);
    // Bounded: users read in chunks, mails claimed in small batches, a heartbeat after each.
    const batches = beats.filter(
      (b): b is { claimed: number } => typeof b === 'object' && b !== null && 'claimed' in b,
    );
    assert.ok(batches.every((b) => b.claimed <= SEND_BATCH));
    assert.ok(batches.length >= count / SEND_BATCH);
    const chunks = beats.filter((b) => typeof b === 'object' && b !== null && 'enqueued' in b);
    assert.equal(chunks.length, Math.ceil(count / ENQUEUE_CHUNK));
  });

  it('a name from the file stays on its line in the welcome mail', async () => {
    const { runId, emails } = await runCreating(
      1,
      () => 'Ana\r\n\r\nYour account is locked: call 555-0100\tnow',
    );
    await attempt().env.run(activities().sendWelcomeEmails, { runId });
    const [mail] = welcomesTo(emails[0]);
    assert.equal(mail.text.split('\n')[0], 'Hello Ana Your account is locked: call 555-0100 now,');
    assert.match(
      mail.text,
      /^Hello .*,\n\nAn account has been created for you by Springfield Public Schools\./,
    );
  });

  it("the admin notice counts a run's errors, and its warnings apart", async () => {
    const { runId } = await runCreating(0);
    await db.pool.query(
      `INSERT INTO run_errors (run_id, row_number, code, severity, message)
       SELECT $1, n, code, severity, 'x' FROM (VALUES
         ('UNKNOWN_SCHOOL', 'error', 3), ('INVALID_EMAIL', 'error', 1),
         ('UNKNOWN_SCHOOL', 'warning', 5), ('PHONE_FORMAT', 'warning', 2)
       ) AS v(code, severity, times), generate_series(1, times) AS n`,
      [runId],
    );
    await attempt().env.run(activities().notifyAdmins, { runId });
    const [notice] = smtp.to(ADMIN);
    assert.match(notice.text, /Most frequent errors:\n {2}UNKNOWN_SCHOOL: 3\n {2}INVALID_EMAIL: 1\n/);
    assert.match(notice.text, /Most frequent warnings:\n {2}UNKNOWN_SCHOOL: 5\n {2}PHONE_FORMAT: 2\n/);
  });
});
