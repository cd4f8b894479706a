import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { runWorkflowId } from '../../../lib/contracts/sync';
import type { SyncRunRow } from '../../../lib/db/repositories/sync-runs.repository';
import { RunReports } from '../../../lib/sync/run-reports';
import { useTestTemporal } from '../../support/temporal';
import { ActivityRecorder, startWorker } from '../workflows/harness';
import { type RunError, type SyncHarness, fixturePath, streamedText, useSyncDistricts } from './sync-harness';

/** The first two teachers of roster-v1.csv only: a truncated export, held for review. */
const TRUNCATED = `First Name,Last Name,Email,Internal ID,School,Role
Ada,Lovelace,Ada.Lovelace@district.org,T1001,Minty Middle School,Teacher
Alan,Turing,alan.turing@district.org,T1002,Minty Middle School,Teacher
`;

/** Everything an admin reads about a run: the run row, its findings and both downloads. */
interface RunHistory {
  run: SyncRunRow;
  errors: RunError[];
  errorsCsv: string;
  planCsv: string;
}

async function history(h: SyncHarness, runId: string): Promise<RunHistory> {
  const reports = new RunReports(h.pool, h.artifacts);
  return {
    run: (await h.runs.get(runId))!,
    errors: await h.errors(runId),
    errorsCsv: await streamedText((out) => reports.writeErrorsCsv(runId, out)),
    planCsv: await streamedText((out) => reports.writePlanCsv(runId, out)),
  };
}

/**
 * Support resets or replays runs in the Temporal UI, and Temporal retries steps: whatever of a
 * finished run's steps runs again, its history and the district's users stay as they were. A run
 * that has not ended yet still starts its steps over.
 */
describe('sync engine: a finished run replayed, retried or reset', () => {
  const { district } = useSyncDistricts();
  let h: SyncHarness;
  const refusedAsFinished = (err: Error & { type?: string }): boolean => {
    assert.equal(err.type, 'RunFinished');
    assert.match(err.message, /already ended/);
    return true;
  };

  before(async () => {
    h = await district({ matchingKey: 'internal_id', coachingGroups: ['individual'] });
    await h.sync({ fixture: 'roster-v1.csv' });
  });

  it('an applied run: stage, plan, apply and finish again change neither its history nor users', async () => {
    const first = await h.sync({ fixture: 'roster-v2.csv' });
    const { runId } = first;
    const recorded = await history(h, runId);
    const usersBefore = await h.users();
    // The run has something to lose: findings, and a plan of every kind of change.
    assert.ok(recorded.errors.some((e) => e.code === 'UNKNOWN_ROLE'));
    assert.match(recorded.planCsv, /^create,/m);
    assert.match(recorded.planCsv, /^update,/m);
    assert.match(recorded.planCsv, /^archive,/m);

    // A reset from the first workflow task is refused at once.
    await assert.rejects(
      h.activities.startRun({ runId, workflowId: `sync-run:${h.districtId}:${runId}` }),
      refusedAsFinished,
    );
    // A reset to a later task repeats the steps themselves: each answers what it recorded.
    assert.deepEqual(await h.activities.stageFile({ runId }), first.stage);
    assert.deepEqual(await h.activities.planChanges({ runId }), first.plan);
    assert.deepEqual(await h.activities.applyChanges({ runId }), { ...first.apply, applied: false });
    await h.activities.finishRun({
      runId,
      status: 'failed',
      failureType: 'Internal',
      failureMessage: 'replayed',
    });
    await h.activities.finishRun({ runId, status: 'held', failureMessage: 'replayed' });
    await h.activities.finishRun({ runId, status: 'succeeded' });

    assert.deepEqual(await history(h, runId), recorded);
    assert.equal(recorded.run.status, 'succeeded');
    assert.deepEqual(await h.users(), usersBefore);
  });

  it('a held run discarded at review stays discarded, with its plan, and applies nothing', async () => {
    const runId = await h.newRun({ name: 'users.csv', text: TRUNCATED });
    const stage = await h.activities.stageFile({ runId });
    const plan = await h.activities.planChanges({ runId });
    await h.activities.finishRun({ runId, status: 'held', failureMessage: 'Too many archives.' });
    await h.activities.finishRun({
      runId,
      status: 'discarded',
      failureType: 'Discarded',
      failureMessage: 'Rejected at review: nothing was applied.',
    });
    const recorded = await history(h, runId);
    const usersBefore = await h.users();
    assert.equal(recorded.run.status, 'discarded');
    assert.equal((recorded.planCsv.match(/^archive,/gm) ?? []).length, plan.archive);

    await assert.rejects(
      h.activities.startRun({ runId, workflowId: `sync-run:${h.districtId}:${runId}` }),
      refusedAsFinished,
    );
    assert.deepEqual(await h.activities.stageFile({ runId }), stage);
    assert.deepEqual(await h.activities.planChanges({ runId }), plan);
    assert.equal((await h.activities.applyChanges({ runId })).applied, false);
    await h.activities.finishRun({ runId, status: 'held', failureMessage: 'replayed' });
    await h.activities.finishRun({ runId, status: 'succeeded' });

    assert.deepEqual(await history(h, runId), recorded);
    assert.deepEqual(await h.users(), usersBefore);
  });

  it('a run failed on its file keeps its findings; its own reset still runs it again', async () => {
    const failed = await h.sync({
      name: 'users.csv',
      text: 'First Name,Last Name,Internal ID\nAda,Lovelace,T1001\n',
    });
    const { runId } = failed;
    assert.equal(failed.stage.fatal?.type, 'MissingColumns');
    assert.equal(failed.run.status, 'failed');
    const recorded = await history(h, runId);

    // A step repeated without a restart answers the recorded failure, so the workflow fails the same way.
    assert.deepEqual(await h.activities.stageFile({ runId }), failed.stage);
    await h.activities.finishRun({ runId, status: 'succeeded' });
    assert.deepEqual(await history(h, runId), recorded);
    // Another workflow cannot revive it.
    await assert.rejects(h.activities.startRun({ runId, workflowId: 'someone-else' }), refusedAsFinished);
    assert.deepEqual(await history(h, runId), recorded);

    // Support resets the run's own workflow to its first task (docs/runbook.md): it runs again.
    await h.activities.startRun({ runId, workflowId: `sync-run:${h.districtId}:${runId}` });
    assert.equal((await h.runs.get(runId))?.status, 'running');
    const again = await h.activities.stageFile({ runId });
    assert.equal(again.fatal?.type, 'MissingColumns');
    assert.deepEqual(await h.errors(runId), recorded.errors, 'staged again, findings not doubled');
    await h.activities.finishRun({
      runId,
      status: 'failed',
      failureType: again.fatal?.type,
      failureMessage: 'again',
    });
    assert.equal((await h.runs.get(runId))?.failure_message, 'again');
  });

  it('a retried stage of a run still running starts over from its file', async () => {
    const runId = await h.newRun({ fixture: 'roster-v2.csv' });
    const first = await h.activities.stageFile({ runId });
    assert.equal(first.rowsWithErrors, 1);
    assert.ok((await h.errors(runId)).some((e) => e.code === 'UNKNOWN_ROLE'));

    // The retry reads the run's file afresh: here the stored file was replaced in between.
    const ref = h.artifacts.refFor(runId, 'roster-v1.csv');
    const { size, sha256 } = await h.artifacts.put(ref, fs.createReadStream(fixturePath('roster-v1.csv')));
    await h.runs.update(runId, {
      file_ref: ref,
      file_name: 'roster-v1.csv',
      file_size: size,
      file_sha256: sha256,
    });
    const retried = await h.activities.stageFile({ runId });
    assert.deepEqual([retried.rowsTotal, retried.rowsValid, retried.rowsWithErrors], [7, 7, 0]);
    assert.deepEqual(await h.errors(runId), [], "the first attempt's findings are cleared");
    const plan = await h.activities.planChanges({ runId });
    assert.equal(plan.unchanged + plan.update + plan.create + plan.reactivate, 7);
    await h.activities.finishRun({ runId, status: 'discarded' });
  });
});

describe('sync-run workflow: support resets a finished run in the Temporal UI', () => {
  const env = useTestTemporal();
  const { district } = useSyncDistricts();
  let h: SyncHarness;

  before(async () => {
    h = await district({ matchingKey: 'internal_id' });
  });

  it('the reset is refused at its first step: run, reports, users and mails stay as they were', async () => {
    // The engine's real activities; the file is already stored, as the Sync Now API leaves it.
    const { runId } = await h.activities.createRun({
      districtId: h.districtId,
      trigger: 'sync_now',
      dryRun: false,
    });
    const ref = h.artifacts.refFor(runId, 'roster-v1.csv');
    const file = await h.artifacts.put(ref, fs.createReadStream(fixturePath('roster-v1.csv')));
    await h.runs.update(runId, {
      file_ref: ref,
      file_name: 'roster-v1.csv',
      file_size: file.size,
      file_sha256: file.sha256,
    });
    const recorder = new ActivityRecorder();
    recorder.behaviour = {
      ...h.activities,
      fetchFile: async () => ({ fileRef: ref, name: 'roster-v1.csv', ...file }),
    };
    const taskQueue = `tq-${crypto.randomUUID()}`;
    const worker = await startWorker(env, taskQueue, recorder);
    try {
      const workflowId = runWorkflowId(h.districtId, runId);
      const result = await env.client.workflow.execute('syncRunWorkflow', {
        workflowId,
        taskQueue,
        args: [{ districtId: h.districtId, runId, trigger: 'sync_now', dryRun: false }],
      });
      assert.deepEqual(result, { runId, status: 'succeeded', applied: true });
      const recorded = await history(h, runId);
      const usersBefore = await h.users();
      assert.equal(usersBefore.length, 7);
      const callsBefore = recorder.calls.length;

      const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const firstTask = events.find((e) => e.workflowTaskCompletedEventAttributes);
      assert.ok(firstTask?.eventId);
      const reset = await env.client.workflowService.resetWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId },
        reason: 'replay a finished run by mistake',
        workflowTaskFinishEventId: firstTask.eventId,
        requestId: crypto.randomUUID(),
      });
      await assert.rejects(
        env.client.workflow.getHandle(workflowId, reset.runId ?? undefined).result(),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
          assert.equal(err.cause.type, 'RunFinished');
          return true;
        },
      );
      // Nothing after the refused start: no failure recorded on the run, no mail to anyone.
      assert.deepEqual(
        recorder.calls.slice(callsBefore).map((c) => c.name),
        ['startRun'],
      );
      assert.deepEqual(await history(h, runId), recorded);
      assert.deepEqual(await h.users(), usersBefore);
    } finally {
      await worker.stop();
    }
  });
});
