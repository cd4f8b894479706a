import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import request from 'supertest';
import { signalFileArrived } from '../../apps/sftp/file-arrived';
import { createSftpServer } from '../../lib/sftp-server/sftp-server';
import { loadSftpConfig } from '../../lib/sftp-server/sftp-config';
import { DistrictSyncClient } from '../../lib/temporal/district-sync.client';
import type { SmtpCatcher } from '../../scripts/dev/smtp-catcher';
import { FIXTURES } from '../support/paths';
import { makeSshKey, sftpBatch } from '../support/ssh-keys';
import { endedRun, startWorkerStack, type WorkerStackWithMail } from '../support/worker-stack';

/**
 * The whole path as a district lives it: an admin sets the district up through the API, the
 * district's nightly script uploads with OpenSSH's sftp client, Sync Now runs the real workflows
 * and activities, and the admin reads the outcome in the API, the Temporal UI and their mail.
 */
/** The district's sync config: Sync Now only (no schedule), matched by Internal ID. */
const SYNC_CONFIG = {
  enabled: false,
  frequency: 'daily',
  startDate: '2026-09-01',
  timeOfDay: '02:00',
  source: 'hosted',
  fileRule: 'latest',
  processOnArrival: false,
  matchingKey: 'internal_id',
  coachingGroups: ['individual'],
  errorThresholdPct: 25,
  maxArchivePct: 30,
  maxArchiveCount: 100,
  maxRowDropPct: 50,
  welcomeEmails: true,
  notifyEmails: ['it-admin@springfield.example.org'],
  notifyOnSuccess: true,
};

describe('roster sync, end to end', () => {
  let stack: WorkerStackWithMail;
  let temporal: TestWorkflowEnvironment;
  let catcher: SmtpCatcher;
  let app: INestApplication;
  let sftp: Awaited<ReturnType<typeof createSftpServer>>;
  let sftpPort: number;
  const token = crypto.randomBytes(24).toString('hex');
  const key = makeSshKey();
  let districtId: string;

  const api = () => request(app.getHttpServer());
  const auth = { authorization: `Bearer ${token}` };

  before(async () => {
    stack = await startWorkerStack({
      name: 'e2e',
      mailCatcher: true,
      settings: { API_TOKEN: token, LOG_LEVEL: 'warn', FETCH_QUIET_SECONDS: '0' },
    });
    ({ temporal, catcher } = stack);
    const { db, env, dataDir } = stack;
    await stack.startWorker();
    sftp = await createSftpServer({
      pool: db.pool,
      root: path.join(dataDir, 'sftp'),
      hostKeysDir: path.join(dataDir, 'sftp-host-keys'),
      // A plain upload counts as complete after 1 s unchanged (30 s by default).
      config: loadSftpConfig({ SFTP_QUIET_SECONDS: '1' }),
      log: pino({ level: 'silent' }),
      onUploadComplete: signalFileArrived(
        new DistrictSyncClient(temporal.client, env.TEMPORAL_TASK_QUEUE),
        pino({ level: 'silent' }),
      ),
    });
    sftpPort = await sftp.listen(0, '127.0.0.1');
    app = await stack.startApi();
  });

  after(async () => {
    await sftp?.close();
    await stack?.close();
    fs.rmSync(key.dir, { recursive: true, force: true });
  });

  async function upload(fixture: string): Promise<void> {
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'upload-'));
    fs.copyFileSync(path.join(FIXTURES, 'e2e', fixture), path.join(staging, 'users.csv'));
    await sftpBatch({
      port: sftpPort,
      username: 'springfield',
      keyPath: key.privateKeyPath,
      commands: ['put users.csv'],
      cwd: staging,
    });
    fs.rmSync(staging, { recursive: true, force: true });
  }

  async function syncNowAndWait(): Promise<Record<string, unknown>> {
    const started = await api().post(`/districts/${districtId}/sync-now`).set(auth).send({}).expect(202);
    const runId = started.body.runId as string;
    const run = await endedRun(app, token, { districtId, runId }, 90_000);
    // The outcome is recorded first, then the run's workflow sends its mail: wait for it too.
    await temporal.client.workflow
      .getHandle(`sync-run:${districtId}:${runId}`)
      .result()
      .catch(() => undefined);
    return run;
  }

  async function activeUsers(): Promise<Map<string, Record<string, unknown>>> {
    const res = await api()
      .get(`/districts/${districtId}/users?status=active&limit=100`)
      .set(auth)
      .expect(200);
    const users = res.body.users as Array<Record<string, unknown>>;
    return new Map(users.map((u) => [u.email as string, u]));
  }

  it('sets a district up through the API', async () => {
    const district = await api()
      .post('/districts')
      .set(auth)
      .send({ name: 'Springfield Public Schools', slug: 'springfield', timeZone: 'America/Chicago' })
      .expect(201);
    districtId = district.body.id;
    for (const name of ['Lincoln Elementary School', 'Washington Middle School']) {
      await api().post(`/districts/${districtId}/schools`).set(auth).send({ name }).expect(201);
    }
    await api().put(`/districts/${districtId}/sync-config`).set(auth).send(SYNC_CONFIG).expect(200);
    await api()
      .post(`/districts/${districtId}/sftp-credentials/keys`)
      .set(auth)
      .send({ publicKey: key.publicKey })
      .expect(201);
  });

  it('imports the initial roster uploaded over SFTP and welcomes every new user', async () => {
    await upload('01-initial-roster.csv');
    const run = await syncNowAndWait();
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.createdCount, 10);
    assert.equal(run.fileName, 'users.csv');

    const users = await activeUsers();
    assert.equal(users.size, 10);
    assert.equal(users.get('maria.garcia@springfield.example.org')?.internalId, '000101');

    const mail = await catcher.messages();
    const welcomed = mail
      .filter((m) => /^Welcome/.test(m.subject))
      .flatMap((m) => m.to)
      .sort();
    assert.equal(welcomed.length, 10);
    assert.ok(welcomed.includes('ana.lopez@springfield.example.org'));
    assert.ok(
      mail.some((m) => m.to.includes('it-admin@springfield.example.org') && /succeeded/.test(m.subject)),
    );

    // Both workflows are there for support to inspect in the Temporal UI.
    const district = await temporal.client.workflow.getHandle(`district-sync:${districtId}`).describe();
    assert.equal(district.status.name, 'RUNNING');
    // The run row is final a moment before its workflow completes.
    const childHandle = temporal.client.workflow.getHandle(`sync-run:${districtId}:${run.id as string}`);
    await childHandle.result();
    assert.equal((await childHandle.describe()).status.name, 'COMPLETED');
  });

  it('applies a changed file: updates, archives the leaver, creates the newcomer, leaves a bad row alone', async () => {
    await upload('02-changes.csv');
    const run = await syncNowAndWait();
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    // Maria (new email and name) and Robert (phone) change; Susan joins; Jennifer left; James's row is bad.
    assert.deepEqual(
      [run.createdCount, run.updatedCount, run.archivedCount, run.unchangedCount, run.errorCount],
      [1, 2, 1, 6, 1],
    );
    const users = await activeUsers();
    // Matched by internal ID: Maria keeps her profile under her new email.
    assert.equal(users.get('maria.reyes@springfield.example.org')?.lastName, 'Garcia-Reyes');
    assert.ok(!users.has('jennifer.moore@springfield.example.org'), 'the leaver is archived');
    assert.ok(users.has('susan.clark@springfield.example.org'), 'the newcomer is created');
    assert.ok(
      users.has('james.smith@springfield.example.org'),
      'a row with an error never archives its user',
    );

    const errors = await api()
      .get(`/districts/${districtId}/runs/${run.id as string}/errors.csv`)
      .set(auth)
      .expect(200);
    assert.match(errors.headers['content-type'], /text\/csv/);
    assert.match(errors.text, /UNKNOWN_SCHOOL/);
    assert.match(errors.text, /Lincoln Elementary School/, 'the error names the closest existing school');
  });

  it('holds a truncated file for review and applies nothing', async () => {
    const before = await activeUsers();
    await upload('03-truncated.csv');
    const run = await syncNowAndWait();
    assert.equal(run.status, 'held', JSON.stringify(run));
    assert.deepEqual([...(await activeUsers()).keys()].sort(), [...before.keys()].sort());
    await api()
      .post(`/districts/${districtId}/runs/${run.id as string}/discard`)
      .set(auth)
      .expect(202);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const after = await api()
        .get(`/districts/${districtId}/runs/${run.id as string}`)
        .set(auth)
        .expect(200);
      if (after.body.status === 'discarded') break;
      if (Date.now() > deadline) assert.fail(`held run not discarded: ${after.body.status}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  });

  it('reactivates a leaver who is back in the file, without a second welcome email', async () => {
    const welcomesBefore = (await catcher.messages()).filter((m) => /^Welcome/.test(m.subject)).length;
    await upload('04-leaver-returns.csv');
    const run = await syncNowAndWait();
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.reactivatedCount, 1);
    assert.equal(run.archivedCount, 0);
    const users = await activeUsers();
    assert.equal(users.size, 11);
    assert.equal(users.get('jennifer.moore@springfield.example.org')?.internalId, '000109');
    const welcomesAfter = (await catcher.messages()).filter((m) => /^Welcome/.test(m.subject)).length;
    assert.equal(welcomesAfter, welcomesBefore);

    const history = await api().get(`/districts/${districtId}/runs`).set(auth).expect(200);
    assert.deepEqual(
      history.body.runs.map((r: { status: string }) => r.status),
      ['succeeded', 'discarded', 'succeeded', 'succeeded'],
      'history lists runs newest first',
    );
  });
  it('lets support reset a failed run in Temporal once the cause is fixed: it applies once, welcomes once', async () => {
    // A new school's staff arrive before the admin has added the school: too many rows fail.
    await upload('05-new-school.csv');
    const failed = await syncNowAndWait();
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    assert.equal(failed.failureType, 'ThresholdExceeded');
    assert.equal((await activeUsers()).size, 11, 'a refused run applies nothing');

    // The admin adds the school; support resets the failed run's workflow to its first task.
    await api()
      .post(`/districts/${districtId}/schools`)
      .set(auth)
      .send({ name: 'Jefferson High School' })
      .expect(201);
    const workflowId = `sync-run:${districtId}:${failed.id as string}`;
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const firstTask = history.events?.find((e) => e.workflowTaskCompletedEventAttributes);
    assert.ok(firstTask?.eventId, 'the failed run has a completed first workflow task');
    const reset = await temporal.client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId },
      reason: 'school added; replay the run',
      workflowTaskFinishEventId: firstTask.eventId,
      requestId: crypto.randomUUID(),
    });
    const result = await temporal.client.workflow.getHandle(workflowId, reset.runId ?? undefined).result();
    assert.equal((result as { status: string }).status, 'succeeded');

    const run = await api()
      .get(`/districts/${districtId}/runs/${failed.id as string}`)
      .set(auth)
      .expect(200);
    assert.equal(run.body.status, 'succeeded');
    assert.equal(run.body.failureType, null);
    assert.equal(run.body.createdCount, 5);
    // The district workflow may have recorded the first attempt's failure before the reset; the
    // status still shows how the run ended, from its row.
    const status = await api().get(`/districts/${districtId}/sync-status`).set(auth).expect(200);
    assert.equal(status.body.lastOutcome.runId, failed.id, 'the last outcome is the reset run');
    assert.equal(status.body.lastOutcome.status, 'succeeded', 'the status shows how the reset run ended');
    assert.equal(status.body.lastOutcome.failureType, undefined);
    assert.equal((await activeUsers()).size, 16);
    const newcomers = [
      'brian.king@springfield.example.org',
      'kevin.lee@springfield.example.org',
      'laura.young@springfield.example.org',
      'nancy.wright@springfield.example.org',
      'steven.scott@springfield.example.org',
    ];
    const welcomed = async () =>
      (await catcher.messages())
        .filter((m) => /^Welcome/.test(m.subject))
        .flatMap((m) => m.to)
        .filter((to) => newcomers.includes(to))
        .sort();
    const deadline = Date.now() + 10_000;
    while ((await welcomed()).length < newcomers.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await welcomed(), newcomers, 'each newcomer is welcomed exactly once');
  });
  it('runs on its own when a complete upload arrives, once the district asks for it', async () => {
    await api()
      .put(`/districts/${districtId}/sync-config`)
      .set(auth)
      .send({ ...SYNC_CONFIG, processOnArrival: true })
      .expect(200);
    await upload('06-phone-change.csv');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const history = await api().get(`/districts/${districtId}/runs`).set(auth).expect(200);
      const run = (history.body.runs as Array<Record<string, unknown>>)[0];
      if (run.trigger === 'file_arrived' && run.status === 'succeeded') {
        assert.equal(run.updatedCount, 1);
        break;
      }
      if (Date.now() > deadline) assert.fail(`no run on arrival: latest is ${JSON.stringify(run)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const users = await activeUsers();
    assert.equal(users.get('kevin.lee@springfield.example.org')?.phone, '555-0201');
  });
});
