import type { SoakEvidence } from './invariants';
import type { Timeline } from './faults';
import type { SoakPlan } from './soak-plan';
import type { Refusal, RunRecord } from './workload';

const sec = (ms: number) => (Number.isNaN(ms) ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** The soak's printed result: the timeline, what ran, how long healthy runs took, and each invariant. */
export function printReport(opts: {
  plan: SoakPlan;
  timeline: Timeline;
  records: RunRecord[];
  refusals: Refusal[];
  evidence: SoakEvidence;
  mailReceived: number;
  usersCreated: number;
}): boolean {
  const { timeline, records, refusals, evidence } = opts;
  console.log('\nTimeline (seconds from the start):');
  for (const event of timeline.events)
    console.log(`  ${(event.atMs / 1000).toFixed(1).padStart(7)}  ${event.text}`);

  console.log('\nRuns started through Sync Now, by district kind (status from the database):');
  const kinds = [...new Set(records.map((r) => r.kind))];
  for (const kind of kinds) {
    const ofKind = records.filter((r) => r.kind === kind);
    const byStatus = new Map<string, number>();
    const failureTypes = new Map<string, number>();
    for (const r of ofKind) {
      const row = evidence.rows.get(r.runId);
      const status = row?.status ?? `${r.status} (no row)`;
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      if (row?.failureType) failureTypes.set(row.failureType, (failureTypes.get(row.failureType) ?? 0) + 1);
    }
    const statuses = [...byStatus].map(([s, n]) => `${s} ${n}`).join(', ');
    const types = [...failureTypes].map(([t, n]) => `${t} ${n}`).join(', ');
    console.log(
      `  ${kind.padEnd(17)} ${String(ofKind.length).padStart(4)} runs: ${statuses}${types ? `; failure types: ${types}` : ''}`,
    );
  }
  const firstFailure = (kind: string) =>
    records
      .map((r) => evidence.rows.get(r.runId))
      .find((row) => row?.failureMessage && records.find((r) => r.runId === row.id)?.kind === kind);
  for (const kind of kinds.filter((k) => k !== 'healthy')) {
    const row = firstFailure(kind);
    if (row) console.log(`    ${kind}: "${(row.failureMessage ?? '').slice(0, 200)}"`);
  }
  if (refusals.length > 0) {
    const byStatus = new Map<number, number>();
    for (const r of refusals) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    console.log(
      `  Sync Now refused ${refusals.length} times (tried again): ${[...byStatus].map(([s, n]) => `${s === 0 ? 'no answer' : s} x${n}`).join(', ')}; first: "${refusals[0].message}"`,
    );
  }
  console.log(
    `  mail: ${opts.mailReceived} messages received by the SMTP server; ${opts.usersCreated} users created by runs`,
  );

  console.log('\nHealthy run durations (created -> finished, from sync_runs):');
  for (const d of evidence.durations)
    console.log(
      `  ${d.phase.padEnd(9)} ${String(d.count).padStart(4)} runs  p50 ${sec(d.p50Ms).padStart(7)}  p95 ${sec(d.p95Ms).padStart(7)}  max ${sec(d.maxMs).padStart(7)}` +
        (d.unfinished > 0 ? `  (${d.unfinished} never finished: counted with their age)` : '') +
        (d.phase === 'hostile' ? `   (bound on p95: ${sec(evidence.delayBoundMs)})` : ''),
    );

  console.log('\nInvariants:');
  for (const r of evidence.results) {
    console.log(`  ${r.pass ? 'PASS' : 'FAIL'}  ${r.name}`);
    for (const line of r.details) console.log(`          ${line}`);
  }
  const passed = evidence.results.every((r) => r.pass);
  console.log(
    `\nsoak ${passed ? 'PASSED' : 'FAILED'}: ${evidence.results.filter((r) => r.pass).length}/${evidence.results.length} invariants hold`,
  );
  return passed;
}
