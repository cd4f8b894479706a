import type { Pool } from 'pg';
import type { ReceivedMail } from '../../test/support/test-smtp';
import type { WorkerExit } from './worker-process';
import {
  activeEmails,
  createdCountMismatches,
  duplicateActiveUsers,
  runRows,
  type RunRow,
} from './soak.repository';
import type { Phase } from './soak-plan';
import type { RunRecord } from './workload';

/** One checked property of the system after the soak: what a district admin or support would check. */
export interface InvariantResult {
  name: string;
  pass: boolean;
  /** The offending rows (a few) or, when it holds, what was checked. */
  details: string[];
}

export interface DurationFigures {
  phase: Phase;
  count: number;
  /** Of those, runs that had not finished when checked (their age then is counted). */
  unfinished: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface SoakEvidence {
  rows: Map<string, RunRow>;
  results: InvariantResult[];
  durations: DurationFigures[];
  delayBoundMs: number;
}

const FINAL = new Set(['succeeded', 'failed', 'held', 'discarded']);
const SHOWN = 5;
/** How much slower healthy runs may get while hostile inputs run: twice the baseline p95 plus 10 s. */
export const delayBound = (baselineP95Ms: number): number => 2 * baselineP95Ms + 10_000;

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

function result(name: string, offenders: string[], whenHolds: string): InvariantResult {
  return {
    name,
    pass: offenders.length === 0,
    details:
      offenders.length === 0
        ? [whenHolds]
        : [
            ...offenders.slice(0, SHOWN),
            ...(offenders.length > SHOWN ? [`... and ${offenders.length - SHOWN} more`] : []),
          ],
  };
}

/**
 * Healthy runs started in a phase: created -> finished from sync_runs. A run that never finished
 * counts with its age at the check, a lower bound, so a run stuck behind hostile input still counts.
 */
function durationsOf(
  records: RunRecord[],
  rows: Map<string, RunRow>,
  phase: Phase,
  checkedAtMs: number,
): DurationFigures {
  const runs = records
    .filter((r) => r.kind === 'healthy' && r.phase === phase)
    .map((r) => rows.get(r.runId))
    .filter((row): row is RunRow => row !== undefined);
  const ms = runs.map((row) => (row.finishedMs ?? checkedAtMs) - row.createdMs).sort((a, b) => a - b);
  return {
    phase,
    count: ms.length,
    unfinished: runs.filter((row) => row.finishedMs === null).length,
    p50Ms: percentile(ms, 50),
    p95Ms: percentile(ms, 95),
    maxMs: percentile(ms, 100),
  };
}

export async function checkInvariants(
  pool: Pool,
  records: RunRecord[],
  mail: ReceivedMail[],
  crashes: Array<WorkerExit & { atMs: number }>,
  slugOf: (districtId: string) => string,
): Promise<SoakEvidence> {
  const checkedAtMs = Date.now();
  const rows = new Map((await runRows(pool)).map((row) => [row.id, row]));
  const all = [...rows.values()];
  const results: InvariantResult[] = [];
  const runLabel = (row: RunRow) => `${slugOf(row.districtId)} run ${row.id}`;

  results.push(
    result(
      'no process exited on its own',
      crashes.map(
        (c) =>
          `worker pid ${c.pid} exited at ${(c.atMs / 1000).toFixed(1)} s (code ${c.code}, signal ${c.signal}): ${c.cause}`,
      ),
      'the worker ended only when the soak killed or stopped it',
    ),
  );

  const duplicates = await duplicateActiveUsers(pool);
  const mismatches = await createdCountMismatches(pool);
  results.push(
    result(
      'no user created twice',
      [
        ...duplicates.map(
          (d) => `${slugOf(d.districtId)}: ${d.users} active users with matching key ${d.key}`,
        ),
        ...mismatches.map(
          (m) =>
            `run ${m.runId} (${m.status}) reports ${m.reported ?? 'no'} created, users rows say ${m.users}`,
        ),
      ],
      `no two active users share a matching key; created counts of ${all.length} runs agree with users rows`,
    ),
  );

  results.push(
    result(
      'no run left running or queued',
      all
        .filter((row) => !FINAL.has(row.status))
        .map((row) => `${runLabel(row)} is ${row.status} (stage ${row.stage})`),
      `all ${all.length} runs ended`,
    ),
  );

  results.push(
    result(
      'every run ended succeeded/failed/held/discarded, with a reason when failed',
      all
        .filter((row) => FINAL.has(row.status) && row.status !== 'succeeded' && row.status !== 'held')
        .filter((row) => !row.failureType || !row.failureMessage)
        .map((row) => `${runLabel(row)} is ${row.status} without failure type and message`),
      `every failed or discarded run names its type and says why`,
    ),
  );

  const welcomes = new Map<string, number>();
  for (const m of mail.filter((m) => m.subject.startsWith('Welcome')))
    for (const to of m.to) welcomes.set(to, (welcomes.get(to) ?? 0) + 1);
  results.push(
    result(
      'no welcome mail delivered twice',
      [...welcomes].filter(([, n]) => n > 1).map(([to, n]) => `${to} received ${n} welcome mails`),
      `${welcomes.size} recipients, one welcome mail each`,
    ),
  );

  const healthy = records.filter((r) => r.kind === 'healthy');
  results.push(
    result(
      "every healthy district's runs finished",
      healthy
        .filter((r) => !FINAL.has(rows.get(r.runId)?.status ?? r.status))
        .map((r) => `${slugOf(r.districtId)} run ${r.runId} is ${rows.get(r.runId)?.status ?? r.status}`),
      `${healthy.length} healthy runs ended`,
    ),
  );

  // The last run of each healthy district whose apply committed read the whole truth: its users are that file.
  const lastApplied = new Map<string, RunRecord>();
  for (const r of healthy) if (rows.get(r.runId)?.applied) lastApplied.set(r.districtId, r);
  const actual = await activeEmails(pool, [...lastApplied.keys()]);
  const drift: string[] = [];
  for (const [districtId, record] of lastApplied) {
    const expected = new Set(record.emails ?? []);
    const active = actual.get(districtId) ?? new Set();
    const missing = [...expected].filter((e) => !active.has(e));
    const extra = [...active].filter((e) => !expected.has(e));
    if (missing.length + extra.length > 0)
      drift.push(
        `${slugOf(districtId)} after run ${record.runId}: ${missing.length} missing (${missing.slice(0, 2).join(', ')}), ${extra.length} not in the file (${extra.slice(0, 2).join(', ')})`,
      );
  }
  results.push(
    result(
      "healthy districts' active users are their last applied file",
      drift,
      `${lastApplied.size} districts match the file of their last applied run`,
    ),
  );

  const durations = (['baseline', 'hostile', 'faults'] as const).map((phase) =>
    durationsOf(records, rows, phase, checkedAtMs),
  );
  const [baseline, hostile] = durations;
  const bound = delayBound(baseline.p95Ms);
  const delayOk = baseline.count > 0 && hostile.count > 0 && hostile.p95Ms <= bound;
  results.push({
    name: "no healthy district's run delayed by another's hostile input beyond the bound",
    pass: delayOk,
    details: [
      baseline.count === 0 || hostile.count === 0
        ? `not measurable: ${baseline.count} baseline and ${hostile.count} hostile-phase healthy runs ended`
        : `hostile-phase p95 ${(hostile.p95Ms / 1000).toFixed(1)} s ${delayOk ? '<=' : '>'} bound ${(bound / 1000).toFixed(1)} s (2 x baseline p95 ${(baseline.p95Ms / 1000).toFixed(1)} s + 10 s)`,
    ],
  });
  return { rows, results, durations, delayBoundMs: bound };
}
