import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueuedRun } from '../../../lib/contracts/schedule';
import * as queue from '../../../workflows/district-queue';
import * as inFlight from '../../../workflows/run-in-flight';
import { emptyQueue } from './queue-fixtures';

const patches = { discardAfterApprove: true, rememberCoalesced: true };
const FINISHED = '2026-03-01T02:05:00.000Z';

const empty = () => emptyQueue();
const request = (runId: string | null, more: Partial<QueuedRun> = {}): QueuedRun => ({
  runId,
  trigger: 'sync_now',
  dryRun: false,
  resumeApproved: false,
  coalesced: [],
  ...more,
});
const watched = (runId: string) =>
  inFlight.watching(empty(), { runId, trigger: 'schedule', dryRun: false, earlyDecision: null });

describe('run in flight: start', () => {
  it('a new scheduled run takes the id of the row created for it', () => {
    const q = inFlight.runRowCreated(inFlight.runStarting(empty(), request(null)), 'new');
    assert.deepEqual(q.inFlight, { runId: 'new', dryRun: false });
  });

  it('closes the runs merged into it and remembers them', () => {
    const next = request('b', { coalesced: ['a'] });
    const q = inFlight.beforeChild(empty(), next, 'b', patches);
    assert.deepEqual(q.discards, [{ runId: 'a', message: 'Coalesced into run b.' }]);
    assert.deepEqual(q.state.recentRunIds, ['a', 'b']);
    const old = inFlight.beforeChild(empty(), next, 'b', { rememberCoalesced: false });
    assert.deepEqual(old.state.recentRunIds, ['b'], 'before its patch only the run itself');
  });

  it('a full run supersedes the plan waiting for review; a dry run or an approved apply does not', () => {
    const held = queue.withState(empty(), { held: { runId: 'h', trigger: 'schedule' } });
    const q = inFlight.beforeChild(held, request('b'), 'b', patches);
    assert.equal(q.state.held, null);
    assert.deepEqual(q.discards, [{ runId: 'h', message: 'Superseded by run b before review.' }]);
    for (const next of [request('d', { dryRun: true }), request('h2', { resumeApproved: true })]) {
      const kept = inFlight.beforeChild(held, next, next.runId!, patches);
      assert.equal(kept.state.held?.runId, 'h');
      assert.deepEqual(kept.discards, []);
    }
  });
});

describe('run in flight: end', () => {
  it('keeps reports for the run in flight, and only a few for other runs', () => {
    let q = watched('r');
    for (let i = 0; i < 12; i++) q = inFlight.endingReported(q, { runId: `other-${i}`, status: 'succeeded' });
    assert.equal(q.endings.size, 10);
    q = inFlight.endingReported(q, { runId: 'r', status: 'failed' });
    assert.deepEqual(inFlight.reportedEnding(q, 'r'), {
      status: 'failed',
      failureType: 'RunAbandoned',
      recorded: true,
    });
    assert.equal(inFlight.reportedEnding(q, 'unknown'), undefined);
  });

  it('a held run waits for review, and a decision that came early is applied to it', () => {
    const early = { ...watched('r'), earlyDecision: { runId: 'r', approve: true } };
    const q = inFlight.runOver(
      inFlight.runEnded(early, 'r', { status: 'held' }, 'schedule', FINISHED, patches),
    );
    assert.equal(q.state.held, null);
    assert.equal(q.state.approved?.runId, 'r');
    assert.equal(q.state.approved?.resumeApproved, true);
    assert.deepEqual(q.state.lastOutcome, { runId: 'r', status: 'held', finishedAt: FINISHED });
  });

  it('records the outcome and clears the run in flight', () => {
    const failed = { status: 'failed', failureType: 'MissingColumns', recorded: true } as const;
    const q = inFlight.runOver(inFlight.runEnded(watched('r'), 'r', failed, 'schedule', FINISHED, patches));
    assert.deepEqual(q.state.lastOutcome, {
      runId: 'r',
      status: 'failed',
      failureType: 'MissingColumns',
      finishedAt: FINISHED,
    });
    assert.equal(q.inFlight, null);
    assert.equal(q.state.inFlight, null);
    assert.equal(q.earlyDecision, null);
    assert.equal(q.runsThisExecution, 1);
    assert.equal(q.lookAgain, true);
  });
});

describe('run in flight: continue-as-new', () => {
  const limits = { maxRunsPerExecution: 2 };
  const small = { continueAsNewSuggested: false, historyLength: 10 };

  it('may continue as new between runs, and while a run is only watched once runs outlive executions', () => {
    assert.equal(inFlight.mayContinueAsNew(empty(), false), true);
    assert.equal(inFlight.mayContinueAsNew(watched('r'), true), true);
    assert.equal(inFlight.mayContinueAsNew(watched('r'), false), false);
    assert.equal(inFlight.mayContinueAsNew(inFlight.endBeingRecorded(watched('r')), true), false);
    const ended = inFlight.endingReported(watched('r'), { runId: 'r', status: 'succeeded' });
    assert.equal(inFlight.mayContinueAsNew(ended, true), false, 'an ending not yet recorded stays');
  });

  it('continues as new when Temporal suggests it or a limit of the input is reached', () => {
    assert.equal(inFlight.historyFull(empty(), small, {}), false);
    assert.equal(inFlight.historyFull(empty(), { ...small, continueAsNewSuggested: true }, {}), true);
    assert.equal(
      inFlight.historyFull(empty(), { ...small, historyLength: 500 }, { maxHistoryEvents: 500 }),
      true,
    );
    const twice = inFlight.runOver(inFlight.runOver(empty()));
    assert.equal(inFlight.historyFull(twice, small, limits), true);
  });

  it('carries the run in flight with a review decision that came early', () => {
    const q = { ...watched('r'), earlyDecision: { runId: 'r', approve: false } };
    assert.deepEqual(inFlight.carriedState(q).inFlight, {
      runId: 'r',
      trigger: 'schedule',
      dryRun: false,
      earlyDecision: { runId: 'r', approve: false },
    });
    assert.equal(
      inFlight.carriedOver(empty(), inFlight.carriedState(q).inFlight!).earlyDecision?.approve,
      false,
    );
  });

  it('wakes the loop for what it must act on', () => {
    const history = () => small;
    assert.equal(inFlight.needsAttention(empty(), true, history, limits), false);
    assert.equal(inFlight.needsAttention(queue.enqueue(empty(), request('a')), true, history, limits), true);
    assert.equal(inFlight.needsAttention({ ...empty(), lookAgain: true }, true, history, limits), true);
    const full = () => ({ ...small, continueAsNewSuggested: true });
    assert.equal(inFlight.needsAttention(watched('r'), true, full, limits), true);
    assert.equal(inFlight.needsAttention(watched('r'), false, full, limits), false);
  });
});

describe('run in flight: a fresh start', () => {
  it('drops a waiting request for a run recovery settled; a run merged into it takes its place', () => {
    const waiting = queue.withState(empty(), { queued: request('s', { coalesced: ['a', 'b'] }) });
    const q = inFlight.dropSettledRequests(waiting, new Set(['s', 'a']));
    assert.equal(q.state.queued?.runId, 'b');
    assert.deepEqual(q.state.queued?.coalesced, []);
    const gone = inFlight.dropSettledRequests(
      queue.withState(empty(), { queued: request('s') }),
      new Set(['s']),
    );
    assert.equal(gone.state.queued, null);
  });

  it('a held run found open waits for review unless another already does', () => {
    const q = inFlight.holdIfNone(empty(), { runId: 'h', trigger: 'schedule' });
    assert.equal(q.state.held?.runId, 'h');
    assert.equal(inFlight.holdIfNone(q, { runId: 'h2', trigger: 'schedule' }).state.held?.runId, 'h');
  });
});
