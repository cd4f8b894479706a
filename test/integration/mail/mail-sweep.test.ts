import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createMailActivities } from '../../../activities/mail.activities';
import { createMailSweepActivities } from '../../../activities/mail-sweep.activities';
import { WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../../apps/worker/worker';
import { MAIL_SWEEP_WORKFLOW_ID, type MailSweepResult } from '../../../lib/contracts/mail-sweep';
import { createSmtpMailer, type Mailer } from '../../../lib/mail/mailer';
import { ensureMailSweep } from '../../../lib/temporal/mail-sweep.client';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { seedDistrictWithConfig } from '../../support/seed';
import { startTestSmtp, type TestSmtp } from '../../support/test-smtp';
import { startTestTemporal } from '../../support/temporal';

/**
 * Mail a run still owes after an SMTP outage that outlasted its mail step's retries: the sweep sends
 * it later by itself, once, even when it meets a late retry of the run's own step.
 */
describe('the mail sweep', () => {
  let db: TestDatabase;
  let smtp: TestSmtp;
  let port: number;
  let mailer: Mailer;
  let temporal: TestWorkflowEnvironment;
  let districtId: string;
  const ADMINS = ['it-admin@ogdenville.example.org', 'principal@ogdenville.example.org'];

  before(async () => {
    [db, smtp, temporal] = await Promise.all([createTestDatabase(), startTestSmtp(), startTestTemporal()]);
    port = smtp.port;
    mailer = createSmtpMailer(`smtp://127.0.0.1:${port}`, 'rostersync@example.org');
    ({ id: districtId } = await seedDistrictWithConfig(
      db.pool,
      { notify_emails: ADMINS },
      { slug: 'ogdenville', name: 'Ogdenville Schools' },
    ));
  });

  after(async () => {
    mailer?.close();
    await smtp?.close();
    await temporal?.teardown();
    await db?.drop();
  });

  /** Each test's run fails differently: the same failure twice in a row would be mailed once only. */
  async function failedRun(failureType: string): Promise<string> {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO sync_runs (district_id, trigger, status, failure_type, failure_message, finished_at)
       VALUES ($1, 'schedule', 'failed', $2, 'The run failed.', now()) RETURNING id`,
      [districtId, failureType],
    );
    return rows[0].id;
  }

  /** The run's notice step, as its last retry leaves it while the mail server is down. */
  async function notifyWhileSmtpDown(runId: string): Promise<void> {
    await smtp.close();
    const step = createMailActivities({
      pool: db.pool,
      mailer,
      apiBaseUrl: 'https://rostersync.example.org',
    });
    await assert.rejects(new MockActivityEnvironment().run(step.notifyAdmins, { runId }), /not sent yet/);
    smtp = await startTestSmtp(port);
  }

  it('sends what a run still owes once the server is back, once, and a second sweep sends nothing', async () => {
    const runId = await failedRun('FileNotFound');
    await notifyWhileSmtpDown(runId);
    assert.equal(smtp.received.length, 0);
    const activities = createMailSweepActivities({ pool: db.pool, mailer });
    const first = await new MockActivityEnvironment().run(activities.deliverOwedMail, { olderThanMs: 0 });
    assert.deepEqual(first, { runs: 1, sent: 2, stillOwed: 0 });
    for (const admin of ADMINS) assert.equal(smtp.to(admin).length, 1, admin);
    assert.match(smtp.received[0].subject, /sync FAILED/);
    const again = await new MockActivityEnvironment().run(activities.deliverOwedMail, { olderThanMs: 0 });
    assert.deepEqual(again, { runs: 0, sent: 0, stillOwed: 0 });
    assert.equal(smtp.received.length, 2);
  });

  it('leaves young mail to the run, and meeting a late retry of the run sends each mail once', async () => {
    const runId = await failedRun('AuthFailed');
    await notifyWhileSmtpDown(runId);
    const activities = createMailSweepActivities({ pool: db.pool, mailer });
    const young: MailSweepResult = await new MockActivityEnvironment().run(activities.deliverOwedMail, {
      olderThanMs: 3_600_000,
    });
    assert.equal(young.runs, 0, 'mail written a moment ago is the run step’s own');
    const step = createMailActivities({
      pool: db.pool,
      mailer,
      apiBaseUrl: 'https://rostersync.example.org',
    });
    await Promise.all([
      new MockActivityEnvironment().run(activities.deliverOwedMail, { olderThanMs: 0 }),
      new MockActivityEnvironment().run(step.notifyAdmins, { runId }),
    ]);
    for (const admin of ADMINS) assert.equal(smtp.to(admin).length, 1, admin);
  });

  it('runs by itself on the worker: started once however many workers start, it delivers owed mail', async () => {
    const runId = await failedRun('HostKeyMismatch');
    await notifyWhileSmtpDown(runId);
    const taskQueue = `mail-sweep-${Date.now()}`;
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      ...WORKFLOW_BUNDLER_OPTIONS,
      activities: createMailSweepActivities({ pool: db.pool, mailer }),
    });
    await worker.runUntil(async () => {
      const settings = { everyMs: 1000, olderThanMs: 0 };
      await ensureMailSweep(temporal.client, taskQueue, settings);
      await ensureMailSweep(temporal.client, taskQueue, settings); // a second worker process starting
      const deadline = Date.now() + 60_000;
      while (smtp.received.length < ADMINS.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
      for (const admin of ADMINS) assert.equal(smtp.to(admin).length, 1, admin);
      const { executions } = await temporal.client.workflowService.listWorkflowExecutions({
        namespace: 'default',
        query: `WorkflowId = '${MAIL_SWEEP_WORKFLOW_ID}'`,
      });
      assert.equal(executions.length, 1);
      await temporal.client.workflow.getHandle(MAIL_SWEEP_WORKFLOW_ID).terminate('test over');
    });
  });
});
