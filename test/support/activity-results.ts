import type { ApplyResult, PlanResult, StageResult } from '../../lib/contracts/sync';

/** What stageFile reports for a file of `rows` rows, every one valid. */
export const stagedRows = (rows: number): StageResult => ({
  rowsTotal: rows,
  rowsBlank: 0,
  rowsValid: rows,
  rowsWithErrors: 0,
  warningCount: 0,
});

/** What planChanges reports: the given counts, 0 for the rest, and no applied file before. */
export const planned = (counts: Partial<PlanResult> = {}): PlanResult => ({
  create: 0,
  update: 0,
  unchanged: 0,
  reactivate: 0,
  archive: 0,
  activeBefore: 0,
  previousRowCount: null,
  ...counts,
});

/** What applyChanges reports for an apply that went through: the given counts, 0 for the rest. */
export const applied = (counts: Partial<Omit<ApplyResult, 'applied'>> = {}): ApplyResult => ({
  applied: true,
  created: 0,
  updated: 0,
  reactivated: 0,
  archived: 0,
  ...counts,
});
