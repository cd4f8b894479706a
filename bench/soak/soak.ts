import fs from 'node:fs';
import { startHostileSftpServer } from '../../test/support/hostile-sftp-server';
import { ApiClient } from './api-client';
import { injectFaults, Timeline } from './faults';
import { checkInvariants } from './invariants';
import { printReport } from './report';
import { planSoak } from './soak-plan';
import { parseSoakOptions } from './soak-options';
import { createdUserCount, pendingMail } from './soak.repository';
import { SeededRandom } from './seeded-random';
import { startStack, StopList, type Stack } from './stack';
import type { WorkerExit } from './worker-process';
import {
  createDistrict,
  driveDistrict,
  healthyRoster,
  type HostileServer,
  type Refusal,
  type RunRecord,
  type SoakDistrict,
} from './workload';

/**
 * `npm run soak`: many districts through real Sync Now runs on a real stack while faults hit it on a
 * seeded schedule, then the invariants checked from the database and the SMTP server. Exits 1 when
 * an invariant fails; everything it started is stopped on success, failure or Ctrl-C.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const options = parseSoakOptions(process.argv.slice(2));
  const plan = planSoak(options);
  let aborted = false;
  let stack: Stack | undefined;
  const stops = new StopList((line) => console.log(line));
  // One clean-up, whichever comes first (the end, a failure, Ctrl-C), and the exit waits for it.
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      await stops.stopAll();
      if (!options.keepData) fs.rmSync(options.dataDir, { recursive: true, force: true });
    })());
  process.once('SIGINT', () => {
    aborted = true;
    console.log('\nCtrl-C: stopping everything the soak started...');
    void cleanUp().finally(() => process.exit(130));
  });

  try {
    console.log(
      `soak: ${options.districts} healthy districts of ${options.users} users${options.hostile.length > 0 ? ` and ${options.hostile.length} hostile ones (${options.hostile.join(', ')})` : ''}, ` +
        `runs started for ${options.durationS} s (at most ${options.maxRuns}), settling up to ${options.settleS} s, seed ${options.seed}; data in ${options.dataDir}`,
    );
    console.log(
      `fault plan: ${plan.faults.map((f) => `${f.kind} at ${(f.atMs / 1000).toFixed(1)} s for ${(f.downMs / 1000).toFixed(1)} s`).join('; ') || 'none'}`,
    );
    stack = await startStack(options.dataDir, stops, (line) => console.log(line));
    const api = new ApiClient(stack.apiUrl, stack.apiToken);
    const random = new SeededRandom(options.seed);

    const districts: SoakDistrict[] = [];
    for (let i = 1; i <= options.districts; i++) {
      const slug = `soak-${String(i).padStart(3, '0')}`;
      const district = await createDistrict(api, slug, 'healthy');
      district.roster = healthyRoster(slug, options.users, random.fork(i));
      districts.push(district);
    }
    for (const kind of options.hostile) {
      let external;
      if (kind === 'stall-after-auth' || kind === 'trickle') {
        const server = await startHostileSftpServer({ mode: kind satisfies HostileServer });
        stops.push(() => server.stop());
        external = server;
      }
      districts.push(await createDistrict(api, `hostile-${kind}`, kind, external));
    }
    const slugs = new Map(districts.map((d) => [d.id, d.slug]));
    console.log(`${districts.length} districts set up through the API; starting runs\n`);

    const startedAtMs = Date.now();
    const timeline = new Timeline(startedAtMs);
    const records: RunRecord[] = [];
    const refusals: Refusal[] = [];
    const issueUntilMs = startedAtMs + plan.durationMs;
    const settleUntilMs = issueUntilMs + options.settleS * 1000;
    const crashes: Array<WorkerExit & { atMs: number }> = [];
    let checking = false;
    // A crashed worker is started again, as its supervisor (systemd, Kubernetes) would.
    stack.worker.onUnexpectedExit = (exit) => {
      crashes.push({ ...exit, atMs: Date.now() - startedAtMs });
      timeline.note(
        `worker exited on its own (pid ${exit.pid}, code ${exit.code}, signal ${exit.signal}): ${exit.cause}`,
      );
      if (aborted || checking) return;
      stack?.worker.start().then(
        () => timeline.note(`worker started again after its crash (pid ${stack?.worker.pid})`),
        (err: Error) => timeline.note(`worker did not start again: ${err.message}`),
      );
    };
    timeline.note('baseline phase: healthy districts only, no faults');
    const phaseNotes = (async () => {
      await sleep(plan.hostileFromMs);
      if (!aborted)
        timeline.note(
          options.hostile.length > 0
            ? 'hostile phase: hostile districts start their runs'
            : 'hostile phase (no hostile districts: --no-hostile)',
        );
      await sleep(plan.faultsFromMs - plan.hostileFromMs);
      if (!aborted) timeline.note('fault phase: faults are injected as planned');
      await sleep(plan.durationMs - plan.faultsFromMs);
      if (!aborted) timeline.note(`no new runs from now on (${records.length} started); settling`);
    })();
    const ctx = {
      plan,
      startedAtMs,
      maxRuns: options.maxRuns,
      hostedFolder: stack.hostedFolder,
      runs: records,
      refusals,
      issueUntilMs,
      settleUntilMs,
      aborted: () => aborted,
    };
    await Promise.all([
      ...districts.map((d, i) => driveDistrict(ctx, d, options.seed * 1000 + i)),
      injectFaults(stack, plan, startedAtMs, timeline, () => aborted),
      phaseNotes,
    ]);
    // Welcome and admin mail goes out after a run's row is final: let the outbox drain too.
    while (!aborted && Date.now() < settleUntilMs && (await pendingMail(stack.pool).catch(() => 1)) > 0)
      await sleep(1_000);
    timeline.note(
      `settled: ${records.filter((r) => ['succeeded', 'failed', 'held', 'discarded'].includes(r.status)).length}/${records.length} runs seen ending`,
    );
    if (aborted) return 130;
    checking = true;

    const evidence = await checkInvariants(
      stack.pool,
      records,
      stack.smtp.received(),
      crashes,
      (id) => slugs.get(id) ?? id,
    );
    const passed = printReport({
      plan,
      timeline,
      records,
      refusals,
      evidence,
      mailReceived: stack.smtp.received().length,
      usersCreated: await createdUserCount(stack.pool),
    });
    console.log(
      `worker log: ${stack.dataDir}/worker.log${options.keepData ? '' : ' (removed; --keep-data keeps it)'}`,
    );
    return passed ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`soak did not complete: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
