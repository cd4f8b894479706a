import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistrictRoster } from '../../../bench/soak/roster-files';
import { SeededRandom } from '../../../bench/soak/seeded-random';
import { parseSoakOptions } from '../../../bench/soak/soak-options';
import { phaseAt, planSoak } from '../../../bench/soak/soak-plan';

describe('the soak plan', () => {
  const options = (flags: string[] = []) => parseSoakOptions(flags);

  it('injects the same faults at the same times for the same seed, and others for another seed', () => {
    assert.deepEqual(planSoak(options(['--seed', '5'])), planSoak(options(['--seed', '5'])));
    assert.notDeepEqual(planSoak(options(['--seed', '5'])).faults, planSoak(options(['--seed', '6'])).faults);
  });

  it('puts every fault inside the fault phase, one at a time, each part back before the next fault', () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planSoak(
        options([
          '--seed',
          String(seed),
          '--worker-kills',
          '3',
          '--postgres-restarts',
          '2',
          '--smtp-outages',
          '2',
        ]),
      );
      assert.equal(plan.faults.length, 7);
      assert.deepEqual(plan.faults.map((f) => f.kind).sort(), [
        'postgres-crash',
        'postgres-crash',
        'smtp-outage',
        'smtp-outage',
        'worker-kill',
        'worker-kill',
        'worker-kill',
      ]);
      let partBackAt = plan.faultsFromMs;
      for (const fault of plan.faults) {
        assert.ok(
          fault.atMs >= partBackAt,
          `seed ${seed}: ${fault.kind} at ${fault.atMs} overlaps the previous fault`,
        );
        assert.equal(phaseAt(plan, fault.atMs), 'faults');
        partBackAt = fault.atMs + fault.downMs;
      }
      assert.ok(partBackAt <= plan.durationMs, `seed ${seed}: the last part is back only at ${partBackAt}`);
    }
  });

  it('refuses counts and durations outside their bounds, naming the flag', () => {
    assert.throws(
      () => options(['--duration', '100000']),
      /--duration expects a whole number from 30 to 3600/,
    );
    assert.throws(() => options(['--districts', '0']), /--districts/);
    assert.throws(() => options(['--wroker-kills', '1']), /unknown flag --wroker-kills/);
  });
});

describe("a healthy district's exports during the soak", () => {
  it('change between files (joiners, leavers, returners, phone changes) and never give a new person an old address', () => {
    const roster = new DistrictRoster('springfield', ['Lincoln Elementary School'], 20, new SeededRandom(3));
    const first = roster.nextFile();
    assert.equal(first.emails.length, 20);
    assert.match(first.csv, /^First Name,Last Name,Email,Internal ID,School,Role,Phone\n/);
    const everyone = new Set(first.emails);
    let previous = first;
    let returned = 0;
    for (let i = 0; i < 30; i++) {
      const next = roster.nextFile();
      const before = new Set(previous.emails);
      const joined = next.emails.filter((e) => !before.has(e));
      const left = previous.emails.filter((e) => !next.emails.includes(e));
      assert.equal(left.length, 2, 'two people leave each time');
      const newcomers = joined.filter((e) => !everyone.has(e));
      assert.equal(newcomers.length, 3, 'three new people join each time');
      returned += joined.length - newcomers.length;
      assert.notEqual(next.csv, previous.csv);
      for (const e of next.emails) everyone.add(e);
      previous = next;
    }
    assert.ok(returned > 0, 'some leavers come back (reactivations)');
  });
});
