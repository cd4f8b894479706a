import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import request from 'supertest';
import { runWorkflowId } from '../../../lib/contracts/sync';
import { FIXTURES } from '../../support/paths';
import type { TestDatabase } from '../../support/postgres';
import { startTestSmtp, type TestSmtp } from '../../support/test-smtp';
import { postDistrict, startWorkerStack, type WorkerStack } from '../../support/worker-stack';
import { eventually, workflowStarted } from './harness';
import { BASE_CONFIG } from '../api/api-harness';

const ADMIN = 'it-admin@springfield.example.org';
const API_TOKEN = crypto.randomBytes(24).toString('hex');
const ROSTER = fs.readFileSync(path.join(FIXTURES, 'e2e', '01-initial-roster.csv'), 'utf8').trimEnd();

/**
 * A run's mail comes after its outcome and never changes it, with the production worker (real
 * workflows and activities), Postgres, the Temporal dev server and a real SMTP server that is down,
 * hangs or comes back as a test needs. An admin reads the outcome in the API and in their mail.
 */
describe('run outcome and mail', () => {
  let stack: WorkerStack;
  let db: TestDatabase;
  let temporal: TestWorkflowEnvironment;
  let smtp: TestSmtp;
  let smtpPort: number;
  let app: INestApplication;
  let districtId: string;
  /** Every mail the SMTP server accepted, across its restarts. */
  const mailbox: Array<{ to: string[]; subject: string; text: string }> = [];
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const api = () => request(app.getHttpServer() as Parameters<typeof request>[0]);

  async function startSmtp(): Promise<void> {
    smtp = await startTestSmtp(smtpPort);
    smtpPort = smtp.port;
    smtp.received = mailbox;
  }

  before(async () => {
    smtpPort = 0;
    await startSmtp();
    stack = await startWorkerStack({
      name: 'run-mail',
      settings: { API_TOKEN, SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, FETCH_QUIET_SECONDS: '0' },
    });
    ({ db, temporal } = stack);
    await stack.startWorker();
    app = await stack.startApi();
    districtId = await postDistrict(app, API_TOKEN, {
      name: 'Springfield Public Schools',
      slug: 'springfield',
    });
    for (const name of ['Lincoln Elementary School', 'Washington Middle School']) {
      await api().post(`/districts/${districtId}/schools`).set(auth).send({ name }).expect(201);
    }
    await api()
      .put(`/districts/${districtId}/sync-config`)
      .set(auth)
      .send({
        ...BASE_CONFIG,
        enabled: false,
        matchingKey: 'internal_id',
        errorThresholdPct: 25,
        maxArchivePct: 30,
        maxArchiveCount: 100,
        maxRowDropPct: 50,
        welcomeEmails: true,
        notifyEmails: [ADMIN],
        notifyOnSuccess: true,
      })
      .expect(200);
  });

  after(async () => {
    await stack?.close();
    await smtp?.close();
  });

  /** The district's file on the hosted SFTP server, as an upload leaves it. */
  function upload(csv: string): void {
    const folder = path.join(stack.dataDir, 'sftp', 'springfield');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'users.csv'), `${csv}\n`);
  }

  async function syncNow(): Promise<{ runId: string; handle: WorkflowHandle }> {
    const started = await api().post(`/districts/${districtId}/sync-now`).set(auth).send({}).expect(202);
    const runId = started.body.runId as string;
    const handle = temporal.client.workflow.getHandle(runWorkflowId(districtId, runId));
    await workflowStarted(handle);
    return { runId, handle };
  }

  async function runRow(runId: string): Promise<Record<string, unknown>> {
    return (await api().get(`/districts/${districtId}/runs/${runId}`).set(auth).expect(200)).body;
  }

  /**
   * The run's pending mail activity `type` once it reached attempt `minAttempt`: running now when
   * `running`, else running or waiting for its next attempt.
   */
  async function pendingActivity(handle: WorkflowHandle, type: string, minAttempt: number, running: boolean) {
    const STARTED = proto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
    return await eventually(
      `${type} at attempt ${minAttempt}${running ? ', running' : ''}`,
      async () => {
        const { raw } = await handle.describe();
        return (raw.pendingActivities ?? []).find(
          (a) =>
            a.activityType?.name === type &&
            (a.attempt ?? 0) >= minAttempt &&
            (!running || a.state === STARTED),
        );
      },
      30_000,
    );
  }

  /**
   * Ends the run's mail activity for good, as its last retry giving up would (10 attempts over about
   * 6 minutes), while the SMTP server keeps it waiting.
   */
  async function failForGood(handle: WorkflowHandle, type: string): Promise<void> {
    const pending = await pendingActivity(handle, type, 1, true);
    await temporal.client.activity.fail(
      { workflowId: handle.workflowId, activityId: pending.activityId! },
      ApplicationFailure.nonRetryable('Mail server unreachable (the last retry gave up)', 'MailUnavailable'),
    );
  }

  /**
   * The SMTP server stops answering. Restarted first, so that every send waits on a new connection:
   * nodemailer would move a send stuck on a reused pooled connection to another one once released.
   */
  async function hangSmtp(): Promise<void> {
    await smtp.close();
    await startSmtp();
    smtp.hang = true;
  }

  const welcomes = (email: string) =>
    mailbox.filter((m) => m.to.includes(email) && /^Welcome/.test(m.subject));
  const notices = () => mailbox.filter((m) => m.to.includes(ADMIN)).map((m) => m.subject);

  it('SMTP down, then up: each welcome goes out once, after retries', async () => {
    await smtp.close();
    upload(ROSTER);
    const { runId, handle } = await syncNow();
    // The outcome is recorded before any mail: the admin sees the run succeeded while mail retries.
    await eventually('run recorded', async () => (await runRow(runId)).status === 'succeeded');
    await pendingActivity(handle, 'sendWelcomeEmails', 2, false);
    await startSmtp();
    assert.deepEqual(await handle.result(), { runId, status: 'succeeded', applied: true });

    const users = ROSTER.split('\n')
      .slice(1)
      .map((line) => line.split(',')[2]);
    assert.equal(users.length, 10);
    for (const email of users) assert.equal(welcomes(email).length, 1, email);
    assert.deepEqual(notices(), ['[rostersync] Springfield Public Schools: sync succeeded']);
  });

  it('mail failing for good leaves the applied run succeeded, and nobody is told it failed', async () => {
    mailbox.length = 0;
    await hangSmtp();
    upload(
      `${ROSTER}\nNina,Patel,nina.patel@springfield.example.org,000201,Lincoln Elementary School,Teacher,,555-0201`,
    );
    const { runId, handle } = await syncNow();
    await failForGood(handle, 'sendWelcomeEmails');
    await failForGood(handle, 'notifyAdmins');
    assert.deepEqual(await handle.result(), { runId, status: 'succeeded', applied: true });

    const run = await runRow(runId);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.createdCount, 1);
    assert.equal(run.failureType, null);
    // Support finds the mails still owed in the outbox, and the failures in the run's history. The
    // notice owed is the one of the run's outcome: nothing says it failed.
    const { rows } = await db.pool.query(
      `SELECT kind, recipient, subject FROM mail_outbox WHERE run_id = $1 AND sent_at IS NULL AND failed_at IS NULL ORDER BY kind DESC`,
      [runId],
    );
    assert.deepEqual(rows, [
      {
        kind: 'welcome',
        recipient: 'nina.patel@springfield.example.org',
        subject: 'Welcome to Springfield Public Schools',
      },
      {
        kind: 'notify',
        recipient: ADMIN,
        subject: '[rostersync] Springfield Public Schools: sync succeeded',
      },
    ]);
    const failed = (await handle.fetchHistory()).events?.filter((e) => e.activityTaskFailedEventAttributes);
    assert.equal(failed?.length, 2);
    assert.deepEqual(mailbox, []);
  });

  it('a notice failing for good leaves a held run held, and approving it still applies it', async () => {
    await hangSmtp();
    mailbox.length = 0;
    // Most of the district gone from the file: a safeguard holds the run for review.
    upload(ROSTER.split('\n').slice(0, 4).join('\n'));
    const { runId, handle } = await syncNow();
    await failForGood(handle, 'notifyAdmins');
    assert.deepEqual(await handle.result(), { runId, status: 'held', applied: false });
    assert.equal((await runRow(runId)).status, 'held');

    smtp.stopHanging();
    await api().post(`/districts/${districtId}/runs/${runId}/approve`).set(auth).expect(202);
    await eventually(
      'approved run applied',
      async () => (await runRow(runId)).status === 'succeeded',
      60_000,
    );
    const approved = temporal.client.workflow.getHandle(runWorkflowId(districtId, runId));
    assert.deepEqual(await approved.result(), { runId, status: 'succeeded', applied: true });
    assert.equal((await runRow(runId)).archivedCount, 8);
    assert.ok(
      notices().includes('[rostersync] Springfield Public Schools: sync succeeded'),
      notices().join(),
    );
    assert.ok(!notices().some((subject) => /FAILED/.test(subject)), notices().join());
  });
});
