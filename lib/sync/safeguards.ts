import type { PlanResult, Safeguards, StageResult } from '../contracts/sync';

/**
 * What the run should do once the file is staged and planned. Pure (no I/O, no Node builtins): the
 * workflow imports it, and the same rules are unit-tested.
 *
 * - too many rows with errors (error threshold, -1 disables) -> fail, nothing is applied;
 * - a file with no usable row would archive everyone -> hold;
 * - archiving more than maxArchivePct of active users or more than maxArchiveCount users, or a file
 *   that shrank by more than maxRowDropPct against the last applied file -> hold for review.
 * A negative limit disables that check.
 */
export type SafeguardDecision =
  | { decision: 'proceed' }
  | { decision: 'fail'; type: 'ThresholdExceeded'; message: string }
  | { decision: 'hold'; reasons: string[] };

export function evaluateSafeguards(stage: StageResult, plan: PlanResult, s: Safeguards): SafeguardDecision {
  const dataRows = stage.rowsValid + stage.rowsWithErrors;
  if (s.errorThresholdPct >= 0 && dataRows > 0) {
    const pct = (stage.rowsWithErrors / dataRows) * 100;
    if (pct > s.errorThresholdPct) {
      return {
        decision: 'fail',
        type: 'ThresholdExceeded',
        message:
          `${stage.rowsWithErrors} of ${dataRows} rows (${fmt(pct)}%) have errors, above the error threshold of ` +
          `${fmt(s.errorThresholdPct)}%. Nothing was applied. Fix the rows listed in the error report and upload the file again.`,
      };
    }
  }

  const reasons: string[] = [];
  if (stage.rowsValid === 0 && plan.archive > 0) {
    reasons.push(
      `The file has no usable rows, so every user (${plan.archive}) would be archived. Check the export before approving.`,
    );
  }
  if (plan.archive > 0) {
    const pct = plan.activeBefore > 0 ? (plan.archive / plan.activeBefore) * 100 : 100;
    if (s.maxArchivePct >= 0 && pct > s.maxArchivePct) {
      reasons.push(
        `${plan.archive} of ${plan.activeBefore} active users (${fmt(pct)}%) would be archived, more than the ` +
          `limit of ${fmt(s.maxArchivePct)}%.`,
      );
    }
    if (s.maxArchiveCount >= 0 && plan.archive > s.maxArchiveCount) {
      reasons.push(`${plan.archive} users would be archived, more than the limit of ${s.maxArchiveCount}.`);
    }
  }
  const rows = stage.rowsTotal - stage.rowsBlank;
  if (plan.previousRowCount !== null && plan.previousRowCount > 0 && s.maxRowDropPct >= 0) {
    const drop = ((plan.previousRowCount - rows) / plan.previousRowCount) * 100;
    if (drop > s.maxRowDropPct) {
      reasons.push(
        `The file has ${rows} rows, ${fmt(drop)}% fewer than the ${plan.previousRowCount} of the last applied file ` +
          `(limit ${fmt(s.maxRowDropPct)}%).`,
      );
    }
  }
  return reasons.length > 0 ? { decision: 'hold', reasons } : { decision: 'proceed' };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
