import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMailActivities } from '../../../activities/mail.activities';
import type { Mailer } from '../../../lib/mail/mailer';
import type { TestDatabase } from '../../support/postgres';
import type { TestSmtp } from '../../support/test-smtp';
import { type MailHarness, startMailHarness } from './mail-harness';

/**
 * What a district's admins find in their mailboxes (a real SMTP server) across runs: every failure
 * and held run, the same failure once a day at most, and a recovery once.
 */
describe('admin notices districts can trust', () => {
  let h: MailHarness;
  let db: TestDatabase;
  let smtp: TestSmtp;
  let mailer: Mailer;
  let districtId: string;
  const ADMINS = ['it-admin@shelbyville.example.org', 'registrar@shelbyville.example.org'];
  const SHA = 'ab'.repeat(32);
  let clock = Date.parse('2026-11-02T08:00:00Z');

  before(async () => {
    h = await startMailHarness(
      { slug: 'shelbyville', name: 'Shelbyville Schools' },
      // The district asked for no success notices: failures and holds must reach it all the same.
      { notify_emails: ADMINS, notify_on_success: false },
    );
    ({ db, smtp, mailer, districtId } = h);
  });

  after(async () => {
    await h?.close();
  });

  beforeEach(() => {
    smtp.received.length = 0;
  });

  /** A run that ended an hour after the previous one, as finishRun leaves it. */
  async function endedRun(over: {
    status: 'succeeded' | 'failed' | 'held';
    failureType?: string;
    message?: string;
    sha?: string | null;
  }): Promise<string> {
    clock += 3_600_000;
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO sync_runs (district_id, trigger, status, file_name, file_size, file_sha256, rows_total,
                              error_count, failure_type, failure_message, finished_at, created_at)
       VALUES ($1, 'schedule', $2, 'staff.csv', 4096, $3, 40, 3, $4, $5, $6, $6) RETURNING id`,
      [
        districtId,
        over.status,
        over.sha === undefined ? SHA : over.sha,
        over.failureType ?? null,
        over.message ?? null,
        new Date(clock),
      ],
    );
    const runId = rows[0].id;
    await db.pool.query(
      `INSERT INTO run_errors (run_id, row_number, code, severity, message)
       SELECT $1, n, 'UNKNOWN_SCHOOL', 'error', 'Row ' || n || ': unknown school' FROM generate_series(2, 4) n`,
      [runId],
    );
    return runId;
  }

  async function notify(runId: string): Promise<number> {
    const activities = createMailActivities({
      pool: db.pool,
      mailer,
      apiBaseUrl: 'https://rostersync.example.org',
    });
    const result: { sent: number } = await new MockActivityEnvironment().run(activities.notifyAdmins, {
      runId,
    });
    return result.sent;
  }

  const subjects = () => smtp.received.map((m) => m.subject);

  it('mails a failure and a held run to every recipient with counts, top errors and a link', async () => {
    const failed = await endedRun({
      status: 'failed',
      failureType: 'MissingColumns',
      message: "No 'Email' column.",
    });
    assert.equal(await notify(failed), 2);
    for (const admin of ADMINS) {
      const [mail] = smtp.to(admin);
      assert.equal(mail.subject, '[rostersync] Shelbyville Schools: sync FAILED (nothing applied)');
      assert.match(mail.text, /Rows in file: 40/);
      assert.match(mail.text, /Reason \(MissingColumns\): No 'Email' column\./);
      assert.match(mail.text, /Most frequent errors:\n {2}UNKNOWN_SCHOOL: 3/);
      assert.match(
        mail.text,
        new RegExp(`Details: https://rostersync\\.example\\.org/districts/${districtId}/runs/${failed}`),
      );
    }
    smtp.received.length = 0;
    const held = await endedRun({ status: 'held', message: 'would archive 40% of active users' });
    assert.equal(await notify(held), 2);
    assert.deepEqual(subjects(), [
      '[rostersync] Shelbyville Schools: sync held for review (nothing applied)',
      '[rostersync] Shelbyville Schools: sync held for review (nothing applied)',
    ]);
    assert.match(smtp.received[0].text, /Approve: POST .*\/approve/);
  });

  it('mails the same failure on three runs in a row once, then again a day later while it lasts', async () => {
    const runs = [];
    for (let i = 0; i < 3; i++)
      runs.push(
        await endedRun({ status: 'failed', failureType: 'EmptyFile', message: 'The file is empty.' }),
      );
    const sent = [];
    for (const run of runs) sent.push(await notify(run));
    assert.deepEqual(sent, [2, 0, 0]);
    assert.equal(smtp.to(ADMINS[0]).length, 1, 'one mail per admin for three identical failures');

    // A day after it was mailed, the failure still there: one reminder.
    await db.pool.query(
      `UPDATE mail_outbox SET created_at = created_at - interval '25 hours' WHERE run_id = $1`,
      [runs[0]],
    );
    const nextDay = await endedRun({
      status: 'failed',
      failureType: 'EmptyFile',
      message: 'The file is empty.',
    });
    assert.equal(await notify(nextDay), 2);
    // The same failure with another file is news.
    const otherFile = await endedRun({ status: 'failed', failureType: 'EmptyFile', sha: 'cd'.repeat(32) });
    assert.equal(await notify(otherFile), 2);
    assert.equal(smtp.to(ADMINS[0]).length, 3);
  });

  it('alerts once when a week of scheduled runs reads the same file, past staleFeedHours', async () => {
    await db.pool.query('UPDATE sync_configs SET stale_feed_hours = 48 WHERE district_id = $1', [districtId]);
    const day = 24 * 3_600_000;
    const start = Date.parse('2026-11-20T07:00:00Z');
    /** A run of the schedule (or of Sync Now) on day `d`, reading the file with hash `sha`. */
    const runOn = async (d: number, sha: string, trigger = 'schedule'): Promise<string> => {
      const at = new Date(start + d * day);
      const { rows } = await db.pool.query<{ id: string }>(
        `INSERT INTO sync_runs (district_id, trigger, status, file_name, file_sha256, dry_run, finished_at, created_at)
         VALUES ($1, $2, 'succeeded', 'staff.csv', $3, false, $4, $4) RETURNING id`,
        [districtId, trigger, sha, at],
      );
      return rows[0].id;
    };
    const stale = () => smtp.received.filter((m) => /no new roster file/.test(m.subject));
    const week = 'ee'.repeat(32);
    const alertsByDay = [];
    for (let d = 0; d < 7; d++) {
      await notify(await runOn(d, week));
      alertsByDay.push(stale().length);
    }
    // Day 2 is 48 hours after the file was first read: one alert per admin then, none after.
    assert.deepEqual(alertsByDay, [0, 0, 2, 2, 2, 2, 2]);
    const [alert] = stale();
    assert.equal(alert.subject, '[rostersync] Shelbyville Schools: no new roster file for 48 hours');
    assert.match(
      alert.text,
      /Every run since 2026-11-20T07:00:00\.000Z read the same file \(staff\.csv\), sha256 e{64}\./,
    );
    // Sync Now reading the same file again raises nothing more; a new file starts a new measure.
    await notify(await runOn(7, week, 'sync_now'));
    await notify(await runOn(8, 'ff'.repeat(32)));
    await notify(await runOn(9, 'ff'.repeat(32)));
    assert.equal(stale().length, 2);
    await db.pool.query('UPDATE sync_configs SET stale_feed_hours = NULL WHERE district_id = $1', [
      districtId,
    ]);
  });

  it('mails the first success after failures once, as a recovery, with notifyOnSuccess off', async () => {
    const failed = await endedRun({ status: 'failed', failureType: 'FileNotFound', sha: null });
    await notify(failed);
    smtp.received.length = 0;
    const recovered = await endedRun({ status: 'succeeded' });
    assert.equal(await notify(recovered), 2);
    const [mail] = smtp.to(ADMINS[1]);
    assert.equal(mail.subject, '[rostersync] Shelbyville Schools: sync succeeded again');
    assert.match(
      mail.text,
      new RegExp(`Runs succeed again: the previous run \\(${failed}\\) had failed \\(FileNotFound\\)`),
    );
    // A retried step sends nothing twice; the next success is an ordinary one, not mailed.
    assert.equal(await notify(recovered), 2);
    assert.equal(smtp.to(ADMINS[1]).length, 1);
    assert.equal(await notify(await endedRun({ status: 'succeeded' })), 0);
    assert.equal(smtp.received.length, 2);
  });
});
