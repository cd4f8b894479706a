import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { runWorkflowId, SIGNALS } from '../../../lib/contracts/sync';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { planned, stagedRows } from '../../support/activity-results';
import { useTestTemporal } from '../../support/temporal';
import {
  ActivityRecorder,
  eventually,
  dueState,
  Gate,
  gatedFetch,
  schedule,
  startDistrict,
  startWorker,
  status,
  uuid,
  withWorker,
  workflowStarted,
} from './harness';

const env = useTestTemporal();

/** The result of a run's child workflow, once the district workflow has started it. */
async function childResult(districtId: string, runId: string): Promise<unknown> {
  const handle = env.client.workflow.getHandle(runWorkflowId(districtId, runId));
  await workflowStarted(handle);
  return await handle.result();
}

/** A fresh task queue and district per test: tests share the server, never each other's workflows. */
function fixture() {
  return { taskQueue: `tq-${uuid()}`, districtId: uuid(), recorder: new ActivityRecorder() };
}

describe('district sync workflow on the Temporal dev server', () => {
  it('coalesces Sync Now requests made during a run into ONE queued run; the others end discarded', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    const gate = new Gate();
    const [first, second, third, fourth] = [uuid(), uuid(), uuid(), uuid()];
    recorder.behaviour.fetchFile = gatedFetch(gate, (runId) => runId === first);
    await withWorker(env, taskQueue, recorder, async (client) => {
      await client.syncNow(districtId, { runId: first, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually('first run blocked in fetchFile', () => gate.entered);
      for (const runId of [second, third, fourth]) {
        await client.syncNow(districtId, { runId, dryRun: false, trigger: 'sync_now' }, schedule());
      }
      const during = await client.status(districtId);
      assert.equal(during?.inFlightRunId, first);
      assert.equal(during?.queued, true);

      gate.release();
      const done = await eventually('queued run finished', async () => {
        const s = await client.status(districtId);
        return s?.lastOutcome?.runId === fourth && s.inFlightRunId === null ? s : undefined;
      });
      assert.equal(done.lastOutcome?.status, 'succeeded');
      assert.equal(done.queued, false);
      // Exactly two runs ran: the one in flight and the newest request; the two in between were merged.
      assert.deepEqual(recorder.started(), [first, fourth]);
      for (const dropped of [second, third]) {
        assert.deepEqual(recorder.run(dropped).statuses, ['discarded']);
        assert.equal(recorder.run(dropped).failureType, 'Discarded');
        assert.equal(recorder.run(dropped).failureMessage, `Coalesced into run ${fourth}.`);
      }
      assert.equal(recorder.count('applyChanges'), 2);
    });
  });

  it('a config change moves the next due time at once; disabled means no next run', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    await withWorker(env, taskQueue, recorder, async (client) => {
      await client.ensureStarted(districtId, schedule({ startDate: '2030-01-01', timeOfDay: '02:00' }));
      await client.ensureStarted(districtId, schedule()); // "already started" is success
      const before = await eventually('status', async () => (await client.status(districtId)) ?? undefined);
      assert.equal(before.nextRunAt, '2030-01-01T08:00:00.000Z');
      assert.equal(before.nextRunLocal, '2030-01-01T02:00:00.000-06:00');

      await client.configChanged(
        districtId,
        schedule({
          timeZone: 'Europe/London',
          frequency: 'monthly',
          startDate: '2030-07-31',
          timeOfDay: '23:30',
        }),
      );
      const moved = await eventually('next due moved', async () => {
        const s = await client.status(districtId);
        return s && s.nextRunAt !== before.nextRunAt ? s : undefined;
      });
      assert.equal(moved.frequency, 'monthly');
      assert.equal(moved.nextRunAt, '2030-07-31T22:30:00.000Z');
      assert.equal(moved.nextRunLocal, '2030-07-31T23:30:00.000+01:00');

      await client.configChanged(districtId, schedule({ enabled: false }));
      const disabled = await eventually('disabled', async () => {
        const s = await client.status(districtId);
        return s?.enabled === false ? s : undefined;
      });
      assert.equal(disabled.nextRunAt, null);
      // Disabled stops scheduled runs only: Sync Now still runs.
      const runId = uuid();
      await client.syncNow(
        districtId,
        { runId, dryRun: false, trigger: 'sync_now' },
        schedule({ enabled: false }),
      );
      await eventually(
        'sync now ran while disabled',
        async () => (await client.status(districtId))?.lastOutcome?.runId === runId,
      );
      assert.equal(recorder.count('createRun'), 0, 'no scheduled run was created');
    });
  });

  it('fires the scheduled run when due, as a child with DistrictId and SyncTrigger search attributes', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    await withWorker(env, taskQueue, recorder, async () => {
      const due = Date.now() + 2_000;
      const handle = await startDistrict(env.client, taskQueue, {
        districtId,
        schedule: schedule({ startDate: '2026-01-01' }),
        // Carried state (as after continue-as-new) puts the next slot two seconds away.
        state: dueState(due),
      });
      const created = await eventually('scheduled run created', () =>
        recorder.calls.find((c) => c.name === 'createRun'),
      );
      assert.ok(created.at >= due, 'not before its due time');
      assert.ok(created.at - due < 5_000, `fired ${created.at - due} ms late`);
      assert.equal(recorder.run(created.runId).trigger, 'schedule');
      const child = env.client.workflow.getHandle(runWorkflowId(districtId, created.runId));
      await childResult(districtId, created.runId);
      const described = await child.describe();
      assert.deepEqual(described.searchAttributes.DistrictId, [districtId]);
      assert.deepEqual(described.searchAttributes.SyncTrigger, ['schedule']);
      // The district workflow hears of the child's end a moment after the child completes.
      const after = await eventually('outcome recorded', async () => {
        const s = await status(handle);
        return s.lastOutcome?.runId === created.runId ? s : undefined;
      });
      assert.equal(after.lastOutcome?.status, 'succeeded');
      // The next slot is tomorrow's (or today's) 02:00 in Chicago, in the future.
      assert.ok(after.nextRunAt && Date.parse(after.nextRunAt) > Date.now());
    });
  });

  it('shows a scheduled run as waiting while its row is being created (Postgres slow or away)', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    const gate = new Gate();
    recorder.behaviour.createRun = async (input) => {
      await gate.pass();
      return { runId: input.runId ?? uuid() };
    };
    await withWorker(env, taskQueue, recorder, async () => {
      const handle = await startDistrict(env.client, taskQueue, {
        districtId,
        schedule: schedule({ startDate: '2026-01-01' }),
        state: dueState(Date.now() + 1_000),
      });
      await eventually('createRun waiting', () => gate.entered);
      const waiting = await status(handle);
      assert.deepEqual([waiting.inFlightRunId, waiting.queued], [null, true]);
      gate.release();
      await eventually(
        'scheduled run done',
        async () => (await status(handle)).lastOutcome?.status === 'succeeded',
      );
      assert.equal((await status(handle)).queued, false);
    });
  });

  it('runs on file arrival only when the district asked for it', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    await withWorker(env, taskQueue, recorder, async (client) => {
      assert.equal(
        await client.fileArrived(uuid(), 'roster.csv'),
        false,
        'no workflow for an unknown district',
      );
      assert.equal(await client.status(uuid()), null);
      await client.ensureStarted(districtId, schedule({ processOnArrival: false }));
      assert.equal(await client.fileArrived(districtId, 'roster.csv'), true);
      await client.configChanged(districtId, schedule({ processOnArrival: true }));
      assert.equal(await client.fileArrived(districtId, 'roster.csv'), true);
      const s = await eventually('file-arrived run finished', async () => {
        const st = await client.status(districtId);
        return st?.lastOutcome ? st : undefined;
      });
      assert.equal(s.lastOutcome?.status, 'succeeded');
      assert.equal(recorder.count('createRun'), 1, 'only the arrival after processOnArrival was set ran');
      assert.equal([...recorder.runs.values()].find((r) => r.trigger)?.trigger, 'file_arrived');
    });
  });

  it('recovers from an SFTP outage by retrying fetchFile with backoff', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    let attempts = 0;
    recorder.behaviour.fetchFile = async () => {
      attempts++;
      if (attempts <= 2) throw new Error('connect ECONNREFUSED 127.0.0.1:22 (SFTP server down)');
      return { fileRef: 'f', name: 'roster.csv', size: 1, sha256: 'x' };
    };
    await withWorker(env, taskQueue, recorder, async (client) => {
      const runId = uuid();
      await client.syncNow(districtId, { runId, dryRun: false, trigger: 'sync_now' }, schedule());
      await childResult(districtId, runId);
      assert.equal(attempts, 3);
      assert.deepEqual(recorder.run(runId).statuses, ['running', 'succeeded']);
      assert.equal(recorder.count('applyChanges', runId), 1);
    });
  });

  it('fails the child with the data error type while the district workflow goes on', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    const bad = uuid();
    recorder.behaviour.stageFile = async ({ runId }) => {
      if (runId !== bad) return stagedRows(5);
      return {
        ...stagedRows(0),
        fatal: { type: 'MissingColumns', message: 'The file has no "email" column. Add it to the export.' },
      };
    };
    let planCalls = 0;
    recorder.behaviour.planChanges = async () => {
      planCalls++;
      throw ApplicationFailure.nonRetryable('No sync configuration for this district.', 'ConfigMissing');
    };
    await withWorker(env, taskQueue, recorder, async (client) => {
      await client.syncNow(districtId, { runId: bad, dryRun: false, trigger: 'sync_now' }, schedule());
      const err = await childResult(districtId, bad).then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'MissingColumns');
      assert.match(err.cause.message, /no "email" column/);
      assert.deepEqual(recorder.run(bad).statuses, ['running', 'failed']);
      assert.equal(recorder.run(bad).failureType, 'MissingColumns');
      assert.equal(recorder.count('notifyAdmins', bad), 1, 'failures always notify');
      assert.equal(recorder.count('applyChanges', bad), 0);

      const s = await eventually('failure recorded', async () => {
        const st = await client.status(districtId);
        return st?.lastOutcome?.runId === bad ? st : undefined;
      });
      assert.equal(s.lastOutcome?.status, 'failed');
      assert.equal(s.lastOutcome?.failureType, 'MissingColumns');

      // An activity's own non-retryable failure: one attempt, typed the same way; the district still serves.
      const next = uuid();
      await client.syncNow(districtId, { runId: next, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually(
        'second failure recorded',
        async () => (await client.status(districtId))?.lastOutcome?.runId === next,
      );
      assert.equal((await client.status(districtId))?.lastOutcome?.failureType, 'ConfigMissing');
      assert.equal(planCalls, 1, 'a non-retryable type is not retried');
      const district = await env.client.workflow.getHandle(`district-sync:${districtId}`).describe();
      assert.equal(district.status.name, 'RUNNING');
    });
  });

  it('drops invalid signals and keeps serving; an invalid input fails at once as InvalidInput', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    await withWorker(env, taskQueue, recorder, async () => {
      const handle = await startDistrict(env.client, taskQueue, { districtId, schedule: schedule() });
      const before = await status(handle);
      await handle.signal(SIGNALS.configChanged, { ...schedule(), timeZone: 'Mars/Olympus_Mons' });
      await handle.signal(SIGNALS.syncNow, { runId: 'not-a-uuid' });
      await handle.signal(SIGNALS.reviewDecision, { approve: 'yes' });
      const runId = uuid();
      await handle.signal(SIGNALS.syncNow, { runId, dryRun: false, trigger: 'sync_now' });
      const after = await eventually('valid run after the invalid signals', async () => {
        const s = await status(handle);
        return s.lastOutcome?.runId === runId ? s : undefined;
      });
      assert.equal(after.lastOutcome?.status, 'succeeded');
      assert.equal(after.nextRunAt, before.nextRunAt, 'the invalid schedule was not applied');
      assert.deepEqual(recorder.started(), [runId], 'only the valid Sync Now ran');
      assert.equal((await handle.describe()).status.name, 'RUNNING');

      const invalid = await env.client.workflow.start('districtSyncWorkflow', {
        workflowId: `district-sync:${uuid()}`,
        taskQueue,
        args: [{ districtId: uuid(), schedule: { ...schedule(), timeZone: 'Nowhere/Land' } }],
      });
      const err = await invalid.result().then(
        () => assert.fail('an invalid input must fail the workflow'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'InvalidInput');
      assert.match(err.cause.message, /schedule\.timeZone: timeZone must be an IANA time zone name/);
    });
  });

  it('completes a run exactly once when its worker dies mid-run and another takes over', async () => {
    const { taskQueue, districtId } = fixture();
    const applied = new Set<string>();
    let applyEffects = 0;
    // Shared "database": the apply effect is guarded on runId, like the real applyChanges.
    const applyOnce = async ({ runId }: { runId: string }) => {
      if (!applied.has(runId)) {
        applied.add(runId);
        applyEffects++;
      }
      return { applied: true, created: 1, updated: 0, reactivated: 0, archived: 0 };
    };
    const first = new ActivityRecorder();
    const gate = new Gate();
    first.behaviour.planChanges = async () => {
      await gate.pass(); // worker 1 dies while planning
      throw new Error('worker 1 went away');
    };
    first.behaviour.applyChanges = applyOnce;
    const second = new ActivityRecorder();
    second.behaviour.applyChanges = applyOnce;

    const worker1 = await startWorker(env, taskQueue, first);
    const client = new DistrictSyncClient(env.client, taskQueue);
    const runId = uuid();
    await client.syncNow(districtId, { runId, dryRun: false, trigger: 'sync_now' }, schedule());
    await eventually('worker 1 busy planning', () => gate.entered);
    await worker1.stop();

    const worker2 = await startWorker(env, taskQueue, second);
    try {
      await childResult(districtId, runId);
      assert.equal(applyEffects, 1);
      assert.equal(first.count('applyChanges') + second.count('applyChanges'), 1);
      assert.equal(second.count('planChanges'), 1, 'worker 2 resumed at the interrupted step');
      assert.equal(
        second.count('fetchFile') + second.count('stageFile'),
        0,
        'completed steps are not redone',
      );
      assert.deepEqual(second.run(runId).statuses, ['succeeded']);
      const s = await eventually('outcome', async () => {
        const st = await client.status(districtId);
        return st?.lastOutcome?.runId === runId ? st : undefined;
      });
      assert.equal(s.lastOutcome?.status, 'succeeded');
    } finally {
      await worker2.stop();
    }
  });

  it('holds a run for review and applies it once on approval; a rejected run is discarded', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    recorder.behaviour.planChanges = async () =>
      planned({ unchanged: 10, archive: 900, activeBefore: 1000, previousRowCount: 1000 });
    await withWorker(env, taskQueue, recorder, async (client) => {
      const held = uuid();
      await client.syncNow(districtId, { runId: held, dryRun: false, trigger: 'sync_now' }, schedule());
      const waiting = await eventually('held', async () => {
        const st = await client.status(districtId);
        return st?.heldRunId === held && st.inFlightRunId === null ? st : undefined;
      });
      assert.equal(waiting.lastOutcome?.status, 'held');
      assert.deepEqual(recorder.run(held).statuses, ['running', 'held']);
      assert.match(recorder.run(held).failureMessage ?? '', /would be archived/);
      assert.equal(recorder.count('applyChanges'), 0);

      await client.review(districtId, { runId: uuid(), approve: true }); // not the held run: ignored
      await client.review(districtId, { runId: held, approve: true });
      await eventually('approved run applied', async () => {
        const st = await client.status(districtId);
        return st?.lastOutcome?.runId === held && st.lastOutcome.status === 'succeeded';
      });
      assert.equal(recorder.count('applyChanges', held), 1);
      assert.equal(
        recorder.count('stageFile', held),
        1,
        'approval applies the reviewed plan, it does not re-stage',
      );
      assert.equal((await client.status(districtId))?.heldRunId, null);

      const rejected = uuid();
      await client.syncNow(districtId, { runId: rejected, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually('second held', async () => (await client.status(districtId))?.heldRunId === rejected);
      await client.review(districtId, { runId: rejected, approve: false });
      await eventually('rejected run discarded', () => recorder.run(rejected).statuses.includes('discarded'));
      assert.equal(recorder.count('applyChanges', rejected), 0);
    });
  });

  it('a discard after an approval wins while the approved run waits for a dry run to finish', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    const [held, preview] = [uuid(), uuid()];
    const gate = new Gate();
    recorder.behaviour.planChanges = async ({ runId }) =>
      planned({
        unchanged: 10,
        archive: runId === held ? 900 : 0,
        activeBefore: 1000,
        previousRowCount: 1000,
      });
    recorder.behaviour.fetchFile = gatedFetch(gate, (runId) => runId === preview);
    await withWorker(env, taskQueue, recorder, async (client) => {
      await client.syncNow(districtId, { runId: held, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually('held', async () => (await client.status(districtId))?.heldRunId === held);
      // A dry run (which leaves the held plan in place) is in flight when the admin approves...
      await client.syncNow(districtId, { runId: preview, dryRun: true, trigger: 'sync_now' }, schedule());
      await eventually('preview in flight', () => gate.entered);
      await client.review(districtId, { runId: held, approve: true });
      await eventually(
        'approved and waiting',
        async () => (await client.status(districtId))?.queued === true,
      );
      // ...and then changes their mind before the approved run could start.
      await client.review(districtId, { runId: held, approve: false });
      await eventually('discarded', () => recorder.run(held).statuses.includes('discarded'));
      gate.release();
      await eventually(
        'preview done',
        async () => (await client.status(districtId))?.lastOutcome?.runId === preview,
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(recorder.count('applyChanges', held), 0, 'the discarded run is never applied');
      assert.equal((await client.status(districtId))?.queued, false);
    });
  });

  it('runs ONE catch-up run for slots missed while no worker ran, within the window', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    await withWorker(env, taskQueue, recorder, async () => {
      const day = 86_400_000;
      // As if the worker had been down for three days: three daily slots passed unattended.
      const handle = await startDistrict(env.client, taskQueue, {
        districtId,
        schedule: schedule({ startDate: '2026-01-01', timeZone: 'UTC' }),
        catchUpWindowHours: 24,
        state: dueState(Date.now() - 3 * day),
      });
      const s = await eventually('catch-up done', async () => {
        const st = await status(handle);
        return st.lastOutcome?.status === 'succeeded' ? st : undefined;
      });
      assert.equal(recorder.count('createRun'), 1, 'one catch-up run, not one per missed slot');
      assert.equal([...recorder.runs.values()].find((r) => r.trigger)?.trigger, 'catch_up');
      assert.ok(
        s.nextRunAt && Date.parse(s.nextRunAt) > Date.now() && Date.parse(s.nextRunAt) <= Date.now() + day,
      );

      // A slot missed longer ago than the window is not caught up.
      const { taskQueue: tq2, districtId: d2, recorder: r2 } = fixture();
      await withWorker(env, tq2, r2, async () => {
        // A one-time run two days ago, missed: outside the 24 h window, so it is not run late.
        const missed = new Date(Date.now() - 2 * day);
        const h2 = await startDistrict(env.client, tq2, {
          districtId: d2,
          schedule: schedule({
            frequency: 'once',
            startDate: missed.toISOString().slice(0, 10),
            timeOfDay: '00:00',
            timeZone: 'UTC',
          }),
          catchUpWindowHours: 24,
          state: dueState(Date.parse(`${missed.toISOString().slice(0, 10)}T00:00:00Z`)),
        });
        await eventually('once schedule consumed', async () => (await status(h2)).nextRunAt === null);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(r2.count('createRun'), 0);
      });
    });
  });

  it('a config saved after a due time passed unhandled (no worker ran) still runs that slot once', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    // Today's slot was two minutes ago; it passes while no worker polls this queue. Then an admin
    // saves the config (a new time of day) before any worker has seen that due time.
    const due = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    const handle = await startDistrict(env.client, taskQueue, {
      districtId,
      schedule: schedule({
        startDate: '2026-01-01',
        timeZone: 'UTC',
        timeOfDay: new Date(due).toISOString().slice(11, 16),
      }),
      catchUpWindowHours: 24,
      state: dueState(due),
    });
    await handle.signal(
      SIGNALS.configChanged,
      schedule({ startDate: '2026-01-01', timeZone: 'UTC', timeOfDay: '23:59' }),
    );
    await withWorker(env, taskQueue, recorder, async () => {
      const s = await eventually('the missed slot ran', async () => {
        const st = await status(handle);
        return st.lastOutcome?.status === 'succeeded' ? st : undefined;
      });
      assert.equal(recorder.count('createRun'), 1);
      const trigger = [...recorder.runs.values()].find((r) => r.trigger)?.trigger;
      assert.ok(trigger === 'schedule' || trigger === 'catch_up', String(trigger));
      assert.match(s.nextRunLocal ?? '', /T23:59:00\.000(Z|\+00:00)$/, 'the new schedule is in force');
    });
  });

  it('a run that cannot be closed as discarded, and a re-sent merged request, leave the schedule running', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    const gate = new Gate();
    const [first, ghost, last] = [uuid(), uuid(), uuid()];
    recorder.behaviour.fetchFile = gatedFetch(gate, (runId) => runId === first);
    // A Sync Now sent by hand for a run id with no row: closing it as discarded fails for good.
    recorder.behaviour.finishRun = async ({ runId, status }) => {
      if (runId === ghost && status === 'discarded')
        throw ApplicationFailure.nonRetryable('no such run', 'RunNotFound');
    };
    await withWorker(env, taskQueue, recorder, async (client) => {
      await client.syncNow(districtId, { runId: first, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually('first run blocked', () => gate.entered);
      await client.syncNow(districtId, { runId: ghost, dryRun: false, trigger: 'sync_now' }, schedule());
      await client.syncNow(districtId, { runId: last, dryRun: false, trigger: 'sync_now' }, schedule());
      gate.release();
      await eventually(
        'the newest request ran',
        async () => (await client.status(districtId))?.lastOutcome?.runId === last,
      );
      // The merged request comes again (a re-delivered signal): it is known, not a new run.
      await client.syncNow(districtId, { runId: ghost, dryRun: false, trigger: 'sync_now' }, schedule());
      const after = await client.status(districtId);
      assert.deepEqual([after?.inFlightRunId, after?.queued], [null, false]);
      assert.deepEqual(recorder.started(), [first, last]);
      // The district workflow is still running and serving.
      const next = uuid();
      await client.syncNow(districtId, { runId: next, dryRun: false, trigger: 'sync_now' }, schedule());
      await eventually(
        'a later Sync Now runs',
        async () => (await client.status(districtId))?.lastOutcome?.runId === next,
      );
    });
  });

  it('continues-as-new and keeps its state: next due, last outcome and the queued run', async () => {
    const { taskQueue, districtId, recorder } = fixture();
    const gate = new Gate();
    const secondGate = new Gate();
    const [first, second] = [uuid(), uuid()];
    recorder.behaviour.fetchFile = async ({ runId }) => {
      await (runId === first ? gate : secondGate).pass();
      return { fileRef: 'f', name: 'roster.csv', size: 1, sha256: 'x' };
    };
    recorder.behaviour.stageFile = async ({ runId }) => {
      if (runId === first) throw ApplicationFailure.nonRetryable('Empty file.', 'EmptyFile');
      return stagedRows(1);
    };
    await withWorker(env, taskQueue, recorder, async () => {
      const handle = await startDistrict(env.client, taskQueue, {
        districtId,
        schedule: schedule({ startDate: '2031-05-31', frequency: 'monthly' }),
        maxRunsPerExecution: 1,
      });
      const firstExecution = (await handle.describe()).runId;
      await handle.signal(SIGNALS.syncNow, { runId: first, dryRun: false, trigger: 'sync_now' });
      await eventually('first run in flight', () => gate.entered);
      await handle.signal(SIGNALS.syncNow, { runId: second, dryRun: false, trigger: 'sync_now' });
      gate.release();

      // The first run fails, the workflow continues-as-new, and the carried queued run starts there.
      await eventually('second run in flight in the new execution', () => secondGate.entered);
      const old = await env.client.workflow
        .getHandle(`district-sync:${districtId}`, firstExecution)
        .describe();
      assert.equal(old.status.name, 'CONTINUED_AS_NEW');
      const carried = await status(handle);
      assert.equal(carried.inFlightRunId, second);
      assert.deepEqual(
        {
          runId: carried.lastOutcome?.runId,
          status: carried.lastOutcome?.status,
          type: carried.lastOutcome?.failureType,
        },
        { runId: first, status: 'failed', type: 'EmptyFile' },
      );
      assert.equal(carried.nextRunAt, '2031-05-31T07:00:00.000Z');
      secondGate.release();

      const s = await eventually('second run done', async () => {
        const st = await status(handle);
        return st.lastOutcome?.runId === second ? st : undefined;
      });
      assert.equal(s.lastOutcome?.status, 'succeeded');
      assert.deepEqual(recorder.started(), [first, second]);
      const latest = await env.client.workflow.getHandle(`district-sync:${districtId}`).describe();
      assert.notEqual(latest.runId, firstExecution);
      assert.equal(latest.status.name, 'RUNNING');
      const history = await env.client.workflow.getHandle(`district-sync:${districtId}`).fetchHistory();
      assert.ok((history.events?.length ?? 0) < 100, 'each execution keeps a short history');
    });
  });
});
