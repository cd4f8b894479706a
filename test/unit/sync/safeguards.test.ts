import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlanResult, Safeguards, StageResult } from '../../../lib/contracts/sync';
import { evaluateSafeguards } from '../../../lib/sync/safeguards';

const stage = (s: Partial<StageResult> = {}): StageResult => ({
  rowsTotal: 1000,
  rowsBlank: 0,
  rowsValid: 1000,
  rowsWithErrors: 0,
  warningCount: 0,
  ...s,
});
const plan = (p: Partial<PlanResult> = {}): PlanResult => ({
  create: 0,
  update: 0,
  unchanged: 1000,
  reactivate: 0,
  archive: 0,
  activeBefore: 1000,
  previousRowCount: 1000,
  ...p,
});
const limits = (s: Partial<Safeguards> = {}): Safeguards => ({
  errorThresholdPct: -1,
  maxArchivePct: 10,
  maxArchiveCount: 500,
  maxRowDropPct: 20,
  ...s,
});

/** The decision alone, for the given stage, plan and limits (each on top of the defaults above). */
const decisionFor = (s: Partial<StageResult>, p: Partial<PlanResult> = {}, l: Partial<Safeguards> = {}) =>
  evaluateSafeguards(stage(s), plan(p), limits(l)).decision;

describe('evaluateSafeguards', () => {
  it('proceeds with an ordinary file', () => {
    assert.deepEqual(evaluateSafeguards(stage(), plan({ archive: 20, update: 30 }), limits()), {
      decision: 'proceed',
    });
  });

  it('fails when the share of rows with errors is above the threshold, naming the numbers', () => {
    const d = evaluateSafeguards(
      stage({ rowsValid: 940, rowsWithErrors: 60 }),
      plan(),
      limits({ errorThresholdPct: 5 }),
    );
    assert.equal(d.decision, 'fail');
    assert.ok(d.decision === 'fail' && d.type === 'ThresholdExceeded');
    assert.match(
      d.decision === 'fail' ? d.message : '',
      /60 of 1000 rows \(6%\) have errors, above the error threshold of 5%/,
    );
  });

  it('exactly at the threshold is allowed; -1 disables it', () => {
    assert.equal(
      decisionFor({ rowsValid: 950, rowsWithErrors: 50 }, {}, { errorThresholdPct: 5 }),
      'proceed',
    );
    assert.equal(
      decisionFor({ rowsValid: 1, rowsWithErrors: 999 }, {}, { errorThresholdPct: -1 }),
      'proceed',
    );
  });

  it('a threshold of 0 fails on the first row error', () => {
    assert.equal(decisionFor({ rowsValid: 999, rowsWithErrors: 1 }, {}, { errorThresholdPct: 0 }), 'fail');
  });

  it('holds when too large a share of active users would be archived', () => {
    const d = evaluateSafeguards(stage(), plan({ archive: 150, activeBefore: 1000 }), limits());
    assert.equal(d.decision, 'hold');
    assert.match(
      d.decision === 'hold' ? d.reasons.join(' ') : '',
      /150 of 1000 active users \(15%\) would be archived, more than the limit of 10%/,
    );
  });

  it('holds when more users than the count limit would be archived', () => {
    const d = evaluateSafeguards(
      stage({ rowsTotal: 95000, rowsValid: 95000 }),
      plan({ archive: 600, activeBefore: 100000, previousRowCount: 95000 }),
      limits(),
    );
    assert.deepEqual(d, {
      decision: 'hold',
      reasons: ['600 users would be archived, more than the limit of 500.'],
    });
  });

  it('holds when the file shrank too much against the last applied file', () => {
    const d = evaluateSafeguards(
      stage({ rowsTotal: 700, rowsValid: 700 }),
      plan({ previousRowCount: 1000 }),
      limits(),
    );
    assert.equal(d.decision, 'hold');
    assert.match(d.decision === 'hold' ? d.reasons[0] : '', /700 rows, 30% fewer than the 1000/);
  });

  it('blank rows do not count as rows for the drop check; a first run has no baseline', () => {
    assert.equal(
      decisionFor({ rowsTotal: 1000, rowsBlank: 300, rowsValid: 700 }, { previousRowCount: 1000 }),
      'hold',
    );
    assert.equal(
      decisionFor({ rowsTotal: 10, rowsValid: 10 }, { previousRowCount: null, create: 10, activeBefore: 0 }),
      'proceed',
    );
  });

  it('a file with no usable row never archives anyone: it holds even with every limit disabled', () => {
    const d = evaluateSafeguards(
      stage({ rowsValid: 0, rowsWithErrors: 1000 }),
      plan({ archive: 1000, activeBefore: 1000 }),
      limits({ maxArchivePct: -1, maxArchiveCount: -1, maxRowDropPct: -1 }),
    );
    assert.equal(d.decision, 'hold');
    assert.match(d.decision === 'hold' ? d.reasons[0] : '', /no usable rows/);
  });

  it('the error threshold is checked before the mass-change checks (fail beats hold)', () => {
    const d = evaluateSafeguards(
      stage({ rowsValid: 500, rowsWithErrors: 500 }),
      plan({ archive: 900 }),
      limits({ errorThresholdPct: 10 }),
    );
    assert.equal(d.decision, 'fail');
  });
});
