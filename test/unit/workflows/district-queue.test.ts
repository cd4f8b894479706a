import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DistrictSchedule, QueuedRun } from '../../../lib/contracts/schedule';
import * as queue from '../../../workflows/district-queue';
import { at, emptyQueue, schedule } from './queue-fixtures';

const rules = { catchUpGraceMs: 60_000, catchUpWindowHours: 24 };
const patches = { dueBeforeReschedule: true, discardAfterApprove: true, rememberCoalesced: true };

const empty = emptyQueue;
const syncNow = (runId: string, dryRun = false): QueuedRun =>
  queue.syncNowRequest({ runId, dryRun, trigger: 'sync_now' });
const held = (runId: string) => queue.withState(empty(), { held: { runId, trigger: 'schedule' as const } });

describe('district queue: requests', () => {
  it('starts with the next due time of its schedule and nothing waiting', () => {
    const q = empty(at('2026-03-01T00:00:00Z'));
    assert.equal(q.state.nextDueAt, at('2026-03-01T02:00:00Z'));
    assert.equal(q.state.queued, null);
    assert.equal(queue.takeNext(q).next, null);
  });

  it('merges a second Sync Now into the waiting one: the newest row runs, the other is coalesced', () => {
    const q = queue.enqueue(queue.enqueue(empty(), syncNow('a')), syncNow('b'));
    assert.equal(q.state.queued?.runId, 'b');
    assert.deepEqual(q.state.queued?.coalesced, ['a']);
  });

  it('keeps a real sync when a dry run and a real one merge, whichever came first', () => {
    for (const [first, second] of [
      [syncNow('dry', true), syncNow('real')],
      [syncNow('real'), syncNow('dry', true)],
    ]) {
      const q = queue.enqueue(queue.enqueue(empty(), first), second);
      assert.equal(q.state.queued?.runId, 'real');
      assert.equal(q.state.queued?.dryRun, false);
      assert.deepEqual(q.state.queued?.coalesced, ['dry']);
    }
  });

  it('lets a scheduled trigger join a waiting Sync Now, whose row already exists', () => {
    const q = queue.enqueue(queue.enqueue(empty(), syncNow('a')), queue.triggeredRequest('schedule'));
    assert.equal(q.state.queued?.runId, 'a');
    assert.equal(q.state.queued?.trigger, 'sync_now');
    assert.deepEqual(q.state.queued?.coalesced, []);
  });

  it('ignores a re-delivered Sync Now for a run it knows', () => {
    const merged = queue.enqueue(queue.enqueue(empty(), syncNow('a')), syncNow('b'));
    assert.equal(queue.enqueue(merged, syncNow('a')), merged, 'coalesced');
    assert.equal(queue.enqueue(merged, syncNow('b')), merged, 'queued');
    const recent = queue.remember(empty(), 'done');
    assert.equal(queue.enqueue(recent, syncNow('done')), recent, 'started lately');
  });

  it('remembers the last 50 run ids only', () => {
    const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
    const q = queue.remember(empty(), ...ids);
    assert.deepEqual(q.state.recentRunIds, ids.slice(10));
  });

  it('queues a run for an arrived file only when the schedule asks for it', () => {
    const q = queue.fileArrived(empty(), schedule);
    assert.equal(q.state.queued?.trigger, 'file_arrived');
    const off = empty();
    assert.equal(queue.fileArrived(off, { ...schedule, processOnArrival: false }), off);
  });
});

describe('district queue: due times and config changes', () => {
  const due = at('2026-03-01T02:00:00Z');

  it('queues a scheduled run when the timer fires on time, and moves to the next slot', () => {
    const q = queue.onDue(empty(), schedule, due, due + 1_000, rules);
    assert.equal(q.state.queued?.trigger, 'schedule');
    assert.equal(q.state.nextDueAt, at('2026-03-02T02:00:00Z'));
  });

  it('catches up once for slots missed while no worker ran, within the window only', () => {
    const late = queue.onDue(empty(), schedule, due, at('2026-03-03T01:00:00Z'), rules);
    assert.equal(late.state.queued?.trigger, 'catch_up');
    assert.equal(late.state.nextDueAt, at('2026-03-03T02:00:00Z'));
    const tooLate = queue.onDue(empty(), schedule, due, at('2026-03-03T01:00:00Z'), {
      ...rules,
      catchUpWindowHours: 1,
    });
    assert.equal(tooLate.state.queued, null);
    assert.equal(tooLate.state.nextDueAt, at('2026-03-03T02:00:00Z'));
  });

  it('on a config change first runs a due time that passed unhandled, then follows the new schedule', () => {
    const q = empty(at('2026-03-01T00:00:00Z'));
    const weekly: DistrictSchedule = { ...schedule, frequency: 'weekly', startDate: '2026-03-06' };
    const now = due + 5_000;
    const changed = queue.configChanged(q, schedule, weekly, now, rules, patches);
    assert.equal(changed.state.queued?.trigger, 'schedule');
    assert.equal(changed.state.nextDueAt, at('2026-03-06T02:00:00Z'));
    assert.equal(changed.lookAgain, true);
    const before = queue.configChanged(q, schedule, weekly, now, rules, { dueBeforeReschedule: false });
    assert.equal(before.state.queued, null, 'without the patch the passed due time is dropped');
    assert.equal(before.state.nextDueAt, at('2026-03-06T02:00:00Z'));
  });
});

describe('district queue: review decisions', () => {
  it('approving the held run queues its apply, ahead of anything queued', () => {
    const q = queue.decide(queue.enqueue(held('h'), syncNow('a')), { runId: 'h', approve: true }, patches);
    assert.equal(q.state.held, null);
    assert.deepEqual(q.state.approved, {
      runId: 'h',
      trigger: 'schedule',
      dryRun: false,
      resumeApproved: true,
      coalesced: [],
    });
    assert.equal(queue.takeNext(q).next?.runId, 'h');
    assert.equal(queue.takeNext(queue.takeNext(q).queue).next?.runId, 'a');
  });

  it('rejecting the held run discards it; a decision for another run changes nothing', () => {
    const q = queue.decide(held('h'), { runId: 'h', approve: false }, patches);
    assert.equal(q.state.held, null);
    assert.deepEqual(q.discards, [{ runId: 'h', message: 'Rejected at review: nothing was applied.' }]);
    const other = held('h');
    assert.equal(queue.decide(other, { runId: 'x', approve: false }, patches), other);
  });

  it('a discard of an approved run not started yet wins, behind its patch', () => {
    const approved = queue.decide(held('h'), { runId: 'h', approve: true }, patches);
    const q = queue.decide(approved, { runId: 'h', approve: false }, patches);
    assert.equal(q.state.approved, null);
    assert.deepEqual(q.discards, [{ runId: 'h', message: 'Rejected at review: nothing was applied.' }]);
    const old = queue.decide(approved, { runId: 'h', approve: false }, { discardAfterApprove: false });
    assert.equal(old, approved);
  });

  it('asks for the discard-after-approve patch only when a discard meets an approved run', () => {
    let asked = 0;
    const counting = {
      get discardAfterApprove() {
        asked++;
        return true;
      },
    };
    queue.decide(held('h'), { runId: 'h', approve: true }, counting);
    queue.decide(held('h'), { runId: 'h', approve: false }, counting);
    assert.equal(asked, 0);
    const approved = queue.decide(held('h'), { runId: 'h', approve: true }, patches);
    queue.decide(approved, { runId: 'h', approve: false }, counting);
    assert.equal(asked, 1);
  });

  it('keeps a decision for the run in flight until the run reports its hold', () => {
    const running = { ...empty(), inFlight: { runId: 'r', dryRun: false } };
    const q = queue.reviewDecision(running, { runId: 'r', approve: true }, patches);
    assert.deepEqual(q.earlyDecision, { runId: 'r', approve: true });
    assert.equal(q.state.approved, null);
  });
});

describe('district queue: next run and status', () => {
  it('starts nothing while a run is in flight', () => {
    const q = { ...queue.enqueue(empty(), syncNow('a')), inFlight: { runId: 'r', dryRun: false } };
    assert.equal(queue.takeNext(q).next, null);
  });

  it('reports a scheduled run whose row is still being created as queued', () => {
    const q = { ...empty(), inFlight: { runId: null, dryRun: false } };
    const status = queue.districtStatus(q, schedule);
    assert.equal(status.queued, true);
    assert.equal(status.inFlightRunId, null);
    assert.equal(status.nextRunAt, '2026-03-01T02:00:00.000Z');
    assert.equal(status.frequency, 'daily');
  });
});
