import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../../activities';
import type { SyncActivities } from '../../../activities/types';
import { districtWorkflowId, runTaskQueue, runWorkflowId } from '../../../lib/contracts/sync';
import { SyncRunsRepository, type SyncRunRow } from '../../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { stagePartition } from '../../../lib/sync/run-id';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { FIXTURES } from '../../support/paths';
import type { TestDatabase } from '../../support/postgres';
import { seedDistrictWithConfig } from '../../support/seed';
import { startWorkerStack, type WorkerStackWithMail } from '../../support/worker-stack';
import { eventually, Gate, schedule, uuid } from './harness';

const SCHOOLS = ['Minty Middle School', 'Lincoln Elementary', 'Roosevelt High School'];
const ROSTER = fs.readFileSync(path.join(FIXTURES, 'sync', 'roster-v1.csv'), 'utf8');
/** The roster cut to its first person: against the full roster applied before, a run to review. */
const SHRUNK = ROSTER.split('\n').slice(0, 2).join('\n') + '\n';

/**
 * Every way a run can end, through the production worker with the real engine over a real
 * Postgres and the Temporal dev server: the run row ends with its reason and its staging partition
 * (a `stage_rows` partition in pg_inherits) is gone, except while the run is held for review.
 * planChanges waits at a gate for the runs a test names, after the real staging ran, so a test can
 * end a run mid-way.
 */
describe('how runs end: run rows and staging partitions', () => {
  let stack: WorkerStackWithMail;
  let db: TestDatabase;
  let temporal: TestWorkflowEnvironment;
  let runs: SyncRunsRepository;
  let client: DistrictSyncClient;
  const taskQueue = `endings-${uuid()}`;
  const gates = new Map<string, Gate>();
  /** Runs once, right after a fresh district workflow read its open runs (before it settles them). */
  let afterOpenRuns: (() => Promise<void>) | undefined;

  before(async () => {
    stack = await startWorkerStack({
      name: 'endings',
      mailCatcher: true,
      settings: { TEMPORAL_TASK_QUEUE: taskQueue, FETCH_QUIET_SECONDS: '0' },
    });
    ({ db, temporal } = stack);
    const real = createActivities({
      pool: db.pool,
      artifacts: new ArtifactStore(path.join(stack.dataDir, 'artifacts')),
      env: stack.env,
    });
    const activities: SyncActivities = {
      ...real,
      openRuns: async (input) => {
        const open = await real.openRuns(input);
        const hook = afterOpenRuns;
        afterOpenRuns = undefined;
        await hook?.();
        return open;
      },
      planChanges: async (input) => {
        await gates.get(input.runId)?.pass();
        // A gate left because the attempt was cancelled (its workflow terminated) plans nothing.
        if (Context.current().cancellationSignal.aborted) throw new Error('cancelled at the gate');
        return await real.planChanges(input);
      },
    };
    await stack.startWorker(activities, { shutdownGraceTime: 0 });
    runs = new SyncRunsRepository(db.pool);
    client = new DistrictSyncClient(temporal.client, taskQueue);
  });

  after(async () => {
    for (const gate of gates.values()) gate.release();
    await stack?.close();
  });

  /** A district with schools and a sync config reading its hosted folder; `upload` replaces its file. */
  async function district(config: Record<string, unknown> = {}) {
    const { id, slug } = await seedDistrictWithConfig(db.pool, config, { schools: SCHOOLS });
    const folder = path.join(stack.dataDir, 'sftp', slug);
    fs.mkdirSync(folder, { recursive: true });
    return { id, upload: (text: string) => fs.writeFileSync(path.join(folder, 'users.csv'), text) };
  }

  /** Sync Now as the API does it: the run row first, then the signal (starting the workflow if needed). */
  async function syncNow(
    districtId: string,
    opts: { gated?: boolean; dryRun?: boolean } = {},
  ): Promise<string> {
    const dryRun = opts.dryRun ?? false;
    const run = await runs.create({ districtId, trigger: 'sync_now', dryRun });
    if (opts.gated) gates.set(run.id, new Gate());
    await client.syncNow(districtId, { runId: run.id, dryRun, trigger: 'sync_now' }, schedule());
    return run.id;
  }

  async function ended(runId: string, statuses = ['succeeded', 'failed', 'discarded']): Promise<SyncRunRow> {
    return await eventually(
      `run ${runId} to end`,
      async () => {
        const run = await runs.get(runId);
        return run && statuses.includes(run.status) ? run : undefined;
      },
      90_000,
    );
  }

  /** The run's staging partition, as support would list it: stage_rows' partitions in pg_inherits. */
  async function hasStaging(runId: string): Promise<boolean> {
    const { rows } = await db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = 'stage_rows'`,
    );
    return rows.some((r) => r.name === stagePartition(runId));
  }

  async function assertNoStaging(...runIds: string[]): Promise<void> {
    for (const runId of runIds) assert.equal(await hasStaging(runId), false, `run ${runId} left its staging`);
  }

  /** Waits until the gated run has staged its file and waits in planChanges. */
  async function atPlan(runId: string): Promise<void> {
    await eventually(`run ${runId} at plan`, () => gates.get(runId)?.entered === true, 90_000);
    assert.equal(await hasStaging(runId), true, 'staging exists while the run is in flight');
  }

  /** A district whose roster run is in flight, waiting at its plan step (staged). */
  async function runAtPlan(): Promise<{ d: Awaited<ReturnType<typeof district>>; runId: string }> {
    const d = await district();
    d.upload(ROSTER);
    const runId = await syncNow(d.id, { gated: true });
    await atPlan(runId);
    return { d, runId };
  }

  /** What support does in the Temporal UI: terminate the district's workflow (not its run's). */
  async function terminateDistrictWorkflow(districtId: string): Promise<void> {
    await temporal.client.workflow
      .getHandle(districtWorkflowId(districtId))
      .terminate('support terminated the district');
  }

  /** A district whose roster was applied once, so that a shrunk file is held for review. */
  async function appliedDistrict() {
    const d = await district();
    d.upload(ROSTER);
    const first = await ended(await syncNow(d.id));
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    return d;
  }

  it('a succeeded run, a run failed in staging and a run failed after planning leave no staging', async () => {
    const d = await district({ error_threshold_pct: 0 });
    d.upload(ROSTER);
    const ok = await ended(await syncNow(d.id));
    assert.equal(ok.status, 'succeeded');
    d.upload('First Name,Last Name\nAda,Lovelace\n');
    const noEmail = await ended(await syncNow(d.id));
    assert.equal(noEmail.status, 'failed');
    assert.equal(noEmail.failure_type, 'MissingColumns');
    d.upload(`${ROSTER}Bad,Row,not-an-email,T9,Minty Middle School,Teacher,,,\n`);
    const overThreshold = await ended(await syncNow(d.id));
    assert.equal(overThreshold.status, 'failed');
    assert.equal(overThreshold.failure_type, 'ThresholdExceeded');
    await assertNoStaging(ok.id, noEmail.id, overThreshold.id);
  });

  it('a held run keeps its staging; discarded at review or superseded by a newer run, it is dropped', async () => {
    const d = await appliedDistrict();
    d.upload(SHRUNK);
    const rejected = await ended(await syncNow(d.id), ['held']);
    assert.equal(await hasStaging(rejected.id), true, 'a held run keeps its staging for the review');
    await eventually(
      'district knows the held run',
      async () => (await client.status(d.id))?.heldRunId === rejected.id,
    );
    await client.review(d.id, { runId: rejected.id, approve: false });
    assert.equal((await ended(rejected.id)).status, 'discarded');

    const superseded = await ended(await syncNow(d.id), ['held']);
    await eventually(
      'district knows the held run',
      async () => (await client.status(d.id))?.heldRunId === superseded.id,
    );
    d.upload(ROSTER);
    const newer = await ended(await syncNow(d.id));
    assert.equal(newer.status, 'succeeded');
    const old = await runs.get(superseded.id);
    assert.equal(old?.status, 'discarded');
    assert.match(old?.failure_message ?? '', /Superseded by run/);
    await assertNoStaging(rejected.id, superseded.id, newer.id);
  });

  it('runs coalesced into a queued run, and a run whose child was terminated mid-run, leave no staging', async () => {
    const { d, runId: long } = await runAtPlan();
    const merged = await syncNow(d.id);
    const queued = await syncNow(d.id);
    await temporal.client.workflow.getHandle(runWorkflowId(d.id, long)).terminate('support stopped it');
    const terminated = await ended(long);
    assert.equal(terminated.status, 'failed');
    assert.match(terminated.failure_message ?? '', /support stopped it|terminated/i);
    assert.equal((await ended(merged)).status, 'discarded');
    assert.equal((await ended(queued)).status, 'succeeded');
    await assertNoStaging(long, merged, queued);
  });

  it('a run replayed after it ended is refused and leaves no staging behind', async () => {
    const d = await district();
    d.upload(ROSTER);
    const done = await ended(await syncNow(d.id));
    await temporal.client.workflow.getHandle(runWorkflowId(d.id, done.id)).result();
    // What a reset to the start of a finished run's workflow does: the same run, from the top.
    const replay = await temporal.client.workflow.start('syncRunWorkflow', {
      workflowId: runWorkflowId(d.id, done.id),
      taskQueue: runTaskQueue(taskQueue),
      args: [{ districtId: d.id, runId: done.id, trigger: 'sync_now' }],
    });
    await assert.rejects(replay.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      return true;
    });
    assert.equal((await runs.get(done.id))?.status, 'succeeded');
    await assertNoStaging(done.id);
  });

  it('a district workflow terminated mid-run, its run gone too: the restart fails the run RunAbandoned and the next Sync Now runs', async () => {
    const { d, runId: lost } = await runAtPlan();
    await terminateDistrictWorkflow(d.id);
    // Its run is terminated too (a district workflow of older code took its run with it).
    await temporal.client.workflow
      .getHandle(runWorkflowId(d.id, lost))
      .terminate('support terminated the run')
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    assert.equal(
      (await runs.get(lost))?.status,
      'running',
      'nothing closed the row: the district is blocked',
    );

    const next = await syncNow(d.id);
    const abandoned = await ended(lost);
    assert.equal(abandoned.status, 'failed');
    assert.equal(abandoned.failure_type, 'RunAbandoned');
    assert.match(abandoned.failure_message ?? '', /terminated or timed out/);
    assert.match(abandoned.failure_message ?? '', /Sync Now starts a new run/);
    assert.equal((await ended(next)).status, 'succeeded');
    await assertNoStaging(lost, next);
  });

  it('a district workflow terminated mid-run while its run goes on: the restart waits for that run, and closes the queued one it lost', async () => {
    const { d, runId: going } = await runAtPlan();
    const lostQueued = await syncNow(d.id);
    await eventually(
      'queued in the district workflow',
      async () => (await client.status(d.id))?.queued === true,
    );
    await terminateDistrictWorkflow(d.id);
    // A queued row younger than a few seconds may still have its Sync Now signal on the way: wait past that.
    await new Promise((resolve) => setTimeout(resolve, 11_000));

    const next = await syncNow(d.id);
    const closed = await ended(lostQueued);
    assert.equal(closed.status, 'failed');
    assert.equal(closed.failure_type, 'RunAbandoned');
    assert.match(closed.failure_message ?? '', /before the run started/);
    const adopted = await eventually('the run in flight adopted', async () => {
      const s = await client.status(d.id);
      return s?.inFlightRunId === going ? s : undefined;
    });
    assert.equal(adopted.queued, true, 'the new Sync Now waits for the run in flight');
    assert.equal((await runs.get(next))?.status, 'queued');

    gates.get(going)!.release();
    assert.equal((await ended(going)).status, 'succeeded');
    const after = await ended(next);
    assert.equal(after.status, 'succeeded');
    const goingEnded = (await runs.get(going))!.finished_at!.getTime();
    assert.ok(after.started_at!.getTime() >= goingEnded, 'one run at a time');
    await assertNoStaging(going, lostQueued, next);
  });

  /** Whether the run's workflow (its latest execution) still runs, as the Temporal UI shows it. */
  async function runWorkflowRunning(districtId: string, runId: string): Promise<boolean> {
    const info = await temporal.client.workflow.getHandle(runWorkflowId(districtId, runId)).describe();
    return info.status.name === 'RUNNING';
  }

  it('a run held while a restarted district workflow settles what it left open stays held for review', async () => {
    const d = await appliedDistrict();
    d.upload(SHRUNK);
    const review = await syncNow(d.id, { gated: true });
    await atPlan(review);
    await terminateDistrictWorkflow(d.id);
    // The restart reads the run as running; before it looks at the run's workflow, the run is held
    // and its workflow completes.
    afterOpenRuns = async () => {
      gates.get(review)!.release();
      await ended(review, ['held']);
      await eventually('the run workflow to complete', async () => !(await runWorkflowRunning(d.id, review)));
    };
    // A dry run: it does not supersede the held one.
    const preview = await syncNow(d.id, { dryRun: true });
    assert.equal((await ended(preview)).status, 'succeeded');
    await eventually(
      'the district knows the held run',
      async () => (await client.status(d.id))?.heldRunId === review,
    );
    const held = await runs.get(review);
    assert.equal(held?.status, 'held', JSON.stringify(held));
    assert.equal(await hasStaging(review), true, 'the held run keeps its staging for the review');

    await client.review(d.id, { runId: review, approve: true });
    assert.equal((await ended(review)).status, 'succeeded');
    await assertNoStaging(review, preview);
  });

  it('a Sync Now re-delivered to a restarted district workflow for the run it adopts runs that run once', async () => {
    const { d, runId: going } = await runAtPlan();
    await terminateDistrictWorkflow(d.id);
    const execution = (await temporal.client.workflow.getHandle(runWorkflowId(d.id, going)).describe()).runId;
    // The API sends the same Sync Now again (a retried request): it starts the district workflow.
    await client.syncNow(d.id, { runId: going, dryRun: false, trigger: 'sync_now' }, schedule());
    await eventually(
      'the run in flight adopted',
      async () => (await client.status(d.id))?.inFlightRunId === going,
    );

    gates.get(going)!.release();
    assert.equal((await ended(going)).status, 'succeeded');
    const status = await eventually('the district idle', async () => {
      const s = await client.status(d.id);
      return s?.inFlightRunId === null && !s.queued && s.lastOutcome?.runId === going ? s : undefined;
    });
    assert.equal(status.lastOutcome?.status, 'succeeded');
    // Given time to start it again, it does not: the run's workflow ran once.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const latest = await temporal.client.workflow.getHandle(runWorkflowId(d.id, going)).describe();
    assert.equal(latest.runId, execution, 'the run was not started a second time');
    assert.equal((await client.status(d.id))?.lastOutcome?.status, 'succeeded');
    assert.equal((await runs.get(going))?.status, 'succeeded');
  });

  it('a run whose workflow already runs when the district workflow starts it is waited for, not failed', async () => {
    const d = await appliedDistrict();
    const run = await runs.create({ districtId: d.id, trigger: 'sync_now', dryRun: false });
    gates.set(run.id, new Gate());
    // The run's workflow is already running (started before the district workflow recorded it).
    await temporal.client.workflow.start('syncRunWorkflow', {
      workflowId: runWorkflowId(d.id, run.id),
      taskQueue: runTaskQueue(taskQueue),
      args: [{ districtId: d.id, runId: run.id, trigger: 'sync_now', notifyDistrict: true }],
    });
    await atPlan(run.id);
    await client.syncNow(d.id, { runId: run.id, dryRun: false, trigger: 'sync_now' }, schedule());
    await eventually(
      'the district waits for the run',
      async () => (await client.status(d.id))?.inFlightRunId === run.id,
    );
    assert.equal((await runs.get(run.id))?.status, 'running', 'the run is not failed while it runs');

    gates.get(run.id)!.release();
    assert.equal((await ended(run.id)).status, 'succeeded');
    const status = await eventually('the outcome recorded', async () => {
      const s = await client.status(d.id);
      return s?.lastOutcome?.runId === run.id ? s : undefined;
    });
    assert.equal(status.lastOutcome?.status, 'succeeded');
    assert.equal(status.inFlightRunId, null);
    const next = await ended(await syncNow(d.id));
    assert.equal(next.status, 'succeeded', 'the district runs the next Sync Now');
    await assertNoStaging(run.id, next.id);
  });
});
