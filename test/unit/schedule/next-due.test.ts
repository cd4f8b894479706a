import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistrictSchedule, type ScheduleFrequency } from '../../../lib/contracts/schedule';
import { localToInstant, nextDueAfter, nextDueFor, toLocalIso } from '../../../lib/schedule/next-due';

const schedule = (
  timeZone: string,
  frequency: ScheduleFrequency,
  startDate: string,
  timeOfDay: string,
): DistrictSchedule => ({
  timeZone,
  frequency,
  startDate,
  timeOfDay,
  enabled: true,
  processOnArrival: false,
});

const ms = (iso: string): number => {
  const value = Date.parse(iso);
  assert.ok(!Number.isNaN(value), `bad ISO in test table: ${iso}`);
  return value;
};
const iso = (instant: number | null): string | null =>
  instant === null ? null : new Date(instant).toISOString();

/** Follows the schedule from `after` and lists the next `count` due instants as UTC ISO strings. */
function series(s: DistrictSchedule, after: string, count: number): (string | null)[] {
  const out: (string | null)[] = [];
  let cursor = ms(after);
  for (let i = 0; i < count; i++) {
    const due = nextDueAfter(s, cursor);
    out.push(iso(due));
    if (due === null) break;
    cursor = due;
  }
  return out;
}

describe('nextDueAfter: DST keeps the wall-clock time', () => {
  const cases: { name: string; s: DistrictSchedule; after: string; expect: string[] }[] = [
    {
      name: 'America/Chicago daily 02:00 across spring forward: the missing 02:00 runs at 03:00 CDT',
      s: schedule('America/Chicago', 'daily', '2026-03-01', '02:00'),
      after: '2026-03-07T00:00:00Z',
      // 02:00 CST = 08:00Z; on Mar 8 02:00 does not exist -> 03:00 CDT = 08:00Z; then 02:00 CDT = 07:00Z.
      expect: ['2026-03-07T08:00:00.000Z', '2026-03-08T08:00:00.000Z', '2026-03-09T07:00:00.000Z'],
    },
    {
      name: 'America/Chicago daily 02:30 inside the gap runs at the first valid instant (03:00 CDT)',
      s: schedule('America/Chicago', 'daily', '2026-03-01', '02:30'),
      after: '2026-03-08T00:00:00Z',
      expect: ['2026-03-08T08:00:00.000Z', '2026-03-09T07:30:00.000Z'],
    },
    {
      name: 'America/Chicago daily 01:30 across fall back: the repeated time runs once, at its first occurrence',
      s: schedule('America/Chicago', 'daily', '2026-10-01', '01:30'),
      after: '2026-10-31T00:00:00Z',
      // Oct 31 01:30 CDT = 06:30Z; Nov 1 01:30 happens at 06:30Z (CDT) and 07:30Z (CST): only 06:30Z;
      // Nov 2 01:30 CST = 07:30Z.
      expect: ['2026-10-31T06:30:00.000Z', '2026-11-01T06:30:00.000Z', '2026-11-02T07:30:00.000Z'],
    },
    {
      name: 'Europe/London daily 01:30 across spring forward (01:00 -> 02:00): runs at 02:00 BST',
      s: schedule('Europe/London', 'daily', '2026-03-01', '01:30'),
      after: '2026-03-28T12:00:00Z',
      expect: ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    },
    {
      name: 'Europe/London daily 01:30 across fall back: one run on the repeated hour',
      s: schedule('Europe/London', 'daily', '2026-03-01', '01:30'),
      after: '2026-10-24T12:00:00Z',
      expect: ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    },
    {
      name: 'Australia/Sydney weekly 02:30 (southern hemisphere) across spring forward in October',
      s: schedule('Australia/Sydney', 'weekly', '2026-09-20', '02:30'),
      after: '2026-09-26T00:00:00Z',
      // after = Sep 26 10:00 AEST, so the first slot is Sun Sep 27:
      // Sep 27 02:30 AEST(+10) = Sep 26 16:30Z; Oct 4 02:30 missing -> 03:00 AEDT = Oct 3 16:00Z;
      // Oct 11 02:30 AEDT(+11) = Oct 10 15:30Z.
      expect: ['2026-09-26T16:30:00.000Z', '2026-10-03T16:00:00.000Z', '2026-10-10T15:30:00.000Z'],
    },
    {
      name: 'Australia/Sydney daily 02:30 across fall back in April: the repeated 02:30 runs once',
      s: schedule('Australia/Sydney', 'daily', '2026-01-01', '02:30'),
      after: '2026-04-04T00:00:00Z',
      // Apr 5 02:30 happens at +11 (Apr 4 15:30Z) and +10 (16:30Z): the first only; Apr 6 02:30 AEST = Apr 5 16:30Z.
      expect: ['2026-04-04T15:30:00.000Z', '2026-04-05T16:30:00.000Z'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(series(c.s, c.after, c.expect.length), c.expect));
  }
});

describe('nextDueAfter: frequencies, month ends, leap years, start dates', () => {
  const cases: { name: string; s: DistrictSchedule; after: string; expect: (string | null)[] }[] = [
    {
      name: 'monthly from Jan 31 clamps to Feb 29 in a leap year, then back to Mar 31 and Apr 30',
      s: schedule('UTC', 'monthly', '2024-01-31', '06:00'),
      after: '2024-01-01T00:00:00Z',
      expect: [
        '2024-01-31T06:00:00.000Z',
        '2024-02-29T06:00:00.000Z',
        '2024-03-31T06:00:00.000Z',
        '2024-04-30T06:00:00.000Z',
      ],
    },
    {
      name: 'monthly from Jan 31 clamps to Feb 28 in a common year',
      s: schedule('America/Chicago', 'monthly', '2027-01-31', '02:00'),
      after: '2027-02-01T00:00:00Z',
      expect: ['2027-02-28T08:00:00.000Z', '2027-03-31T07:00:00.000Z'],
    },
    {
      name: 'monthly from the 29th of Feb in a leap year runs on the 29th after that, clamped in February',
      s: schedule('UTC', 'monthly', '2024-02-29', '00:00'),
      after: '2025-01-30T00:00:00Z',
      expect: ['2025-02-28T00:00:00.000Z', '2025-03-29T00:00:00.000Z'],
    },
    {
      name: 'weekly runs on the start date weekday (a Wednesday)',
      s: schedule('Europe/London', 'weekly', '2026-01-07', '09:15'),
      after: '2026-11-23T12:00:00Z',
      expect: ['2026-11-25T09:15:00.000Z', '2026-12-02T09:15:00.000Z'],
    },
    {
      name: 'a start date in the future: nothing before it',
      s: schedule('America/Chicago', 'daily', '2027-06-15', '23:45'),
      after: '2026-11-23T12:00:00Z',
      expect: ['2027-06-16T04:45:00.000Z', '2027-06-17T04:45:00.000Z'],
    },
    {
      name: 'a start date long in the past: the next slot from now, not a backlog',
      s: schedule('UTC', 'daily', '2019-05-01', '03:00'),
      after: '2026-11-23T12:00:00Z',
      expect: ['2026-11-24T03:00:00.000Z'],
    },
    {
      name: 'the due instant itself is not "after": the next slot follows',
      s: schedule('UTC', 'daily', '2026-01-01', '03:00'),
      after: '2026-11-24T03:00:00Z',
      expect: ['2026-11-25T03:00:00.000Z'],
    },
    {
      name: 'once in the future runs once, then nothing',
      s: schedule('Australia/Sydney', 'once', '2026-12-01', '07:00'),
      after: '2026-11-23T12:00:00Z',
      expect: ['2026-11-30T20:00:00.000Z', null],
    },
    {
      name: 'once in the past never runs',
      s: schedule('UTC', 'once', '2026-01-01', '07:00'),
      after: '2026-11-23T12:00:00Z',
      expect: [null],
    },
    {
      name: 'daily across a year end and Feb 29',
      s: schedule('UTC', 'daily', '2023-12-30', '12:00'),
      after: '2024-02-28T13:00:00Z',
      expect: ['2024-02-29T12:00:00.000Z', '2024-03-01T12:00:00.000Z'],
    },
    {
      name: 'late evening in a zone behind UTC: the local date decides, not the UTC date',
      s: schedule('America/Chicago', 'weekly', '2026-11-02', '22:00'),
      after: '2026-11-10T03:00:00Z',
      // Mon Nov 9 22:00 CST = Nov 10 04:00Z, still ahead of 03:00Z.
      expect: ['2026-11-10T04:00:00.000Z', '2026-11-17T04:00:00.000Z'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(series(c.s, c.after, c.expect.length), c.expect));
  }
});

describe('schedule helpers', () => {
  it('a disabled schedule has no next due time', () => {
    const s = { ...schedule('UTC', 'daily', '2026-01-01', '03:00'), enabled: false };
    assert.equal(nextDueFor(s, ms('2026-11-23T00:00:00Z')), null);
  });

  it('shows the next run in the district offset', () => {
    assert.equal(toLocalIso(ms('2026-03-09T07:00:00Z'), 'America/Chicago'), '2026-03-09T02:00:00.000-05:00');
  });

  it('refuses an unknown time zone with a message saying what to use', () => {
    assert.throws(
      () => localToInstant('Mars/Olympus', { year: 2026, month: 1, day: 1, hour: 0, minute: 0 }),
      /IANA name/,
    );
    const parsed = DistrictSchedule.safeParse({
      ...schedule('Mars/Olympus', 'daily', '2026-01-01', '03:00'),
    });
    assert.equal(parsed.success, false);
  });

  it('rejects impossible dates and times in a schedule', () => {
    assert.equal(DistrictSchedule.safeParse(schedule('UTC', 'daily', '2026-02-30', '03:00')).success, false);
    assert.equal(DistrictSchedule.safeParse(schedule('UTC', 'daily', '2026-02-28', '24:00')).success, false);
    assert.equal(DistrictSchedule.safeParse(schedule('UTC', 'daily', '2026-02-28', '7:00')).success, false);
    assert.equal(DistrictSchedule.safeParse(schedule('UTC', 'daily', '2024-02-29', '23:59')).success, true);
  });

  it('stays fast over a decade of daily slots (the walk starts near the answer)', () => {
    // Compared with a schedule that started yesterday, timed side by side so machine load cancels
    // out: walking slot by slot from 2016 would cost thousands of times more, starting near the
    // answer costs the same.
    const cost = (startDate: string): number => {
      const s = schedule('Europe/London', 'daily', startDate, '02:00');
      const started = performance.now();
      for (let i = 0; i < 500; i++) nextDueAfter(s, ms('2026-11-23T00:00:00Z') + i * 3_600_000);
      return performance.now() - started;
    };
    cost('2026-11-22'); // warm-up
    const [decade, recent] = [cost('2016-01-01'), cost('2026-11-22')];
    assert.ok(decade < recent * 5 + 50, `a decade-old start took ${decade} ms, a recent one ${recent} ms`);
  });
});
