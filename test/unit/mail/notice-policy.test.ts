import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideNotice,
  type NoticeSituation,
  type PreviousRun,
  REPEATED_FAILURE_REMINDER_MS,
} from '../../../lib/mail/notice-policy';

const NOW = new Date('2026-12-02T08:00:00Z');
const SHA = 'ab'.repeat(32);
const failedBefore: PreviousRun = {
  id: 'r1',
  status: 'failed',
  failureType: 'MissingColumns',
  fileSha256: SHA,
};

const situation = (over: Partial<NoticeSituation>): NoticeSituation => ({
  outcome: 'failed',
  failureType: 'MissingColumns',
  fileSha256: SHA,
  notifyOnSuccess: false,
  refusedWelcomes: 0,
  previous: null,
  lastNoticeOfSameFailure: null,
  now: NOW,
  ...over,
});
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

describe('which admin notice a run gets', () => {
  it('mails every failure and every held run, whatever notifyOnSuccess says', () => {
    assert.deepEqual(decideNotice(situation({})), { send: true });
    assert.deepEqual(decideNotice(situation({ outcome: 'held', previous: failedBefore })), { send: true });
  });

  it('mails the same failure on the next run only once a day has passed since it was mailed', () => {
    const repeated = situation({ previous: failedBefore, lastNoticeOfSameFailure: hoursAgo(2) });
    const quiet = decideNotice(repeated);
    assert.equal(quiet.send, false);
    assert.match(
      quiet.send ? '' : quiet.reason,
      /same failure \(MissingColumns, same file\).*mailed again from 2026-12-03T06:00:00\.000Z/,
    );
    const dayLater = hoursAgo(REPEATED_FAILURE_REMINDER_MS / 3_600_000);
    assert.deepEqual(decideNotice({ ...repeated, lastNoticeOfSameFailure: dayLater }), { send: true });
    // Never mailed in this streak (nobody was on the list then): mailed now.
    assert.deepEqual(decideNotice({ ...repeated, lastNoticeOfSameFailure: null }), { send: true });
  });

  it('mails a failure that differs from the previous one by its type or its file', () => {
    const mailed = hoursAgo(1);
    assert.deepEqual(
      decideNotice(
        situation({ previous: failedBefore, lastNoticeOfSameFailure: mailed, failureType: 'EmptyFile' }),
      ),
      { send: true },
    );
    assert.deepEqual(
      decideNotice(
        situation({ previous: failedBefore, lastNoticeOfSameFailure: mailed, fileSha256: 'cd'.repeat(32) }),
      ),
      { send: true },
    );
  });

  it('mails the first success after a failure as a recovery, and later successes only when asked', () => {
    assert.deepEqual(decideNotice(situation({ outcome: 'succeeded', previous: failedBefore })), {
      send: true,
      recoveredFrom: failedBefore,
    });
    const afterSuccess: PreviousRun = { id: 'r2', status: 'succeeded', failureType: null, fileSha256: SHA };
    assert.equal(decideNotice(situation({ outcome: 'succeeded', previous: afterSuccess })).send, false);
    assert.deepEqual(
      decideNotice(situation({ outcome: 'succeeded', previous: afterSuccess, notifyOnSuccess: true })),
      {
        send: true,
      },
    );
    assert.deepEqual(
      decideNotice(situation({ outcome: 'succeeded', previous: afterSuccess, refusedWelcomes: 2 })),
      {
        send: true,
      },
    );
  });
});
