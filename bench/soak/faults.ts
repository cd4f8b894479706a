import type { PlannedFault, SoakPlan } from './soak-plan';
import type { Stack } from './stack';

/** What happened when, in milliseconds from the soak's start: the printed timeline. */
export class Timeline {
  readonly events: Array<{ atMs: number; text: string }> = [];

  constructor(private readonly startedAtMs: number) {}

  note(text: string): void {
    const atMs = Date.now() - this.startedAtMs;
    this.events.push({ atMs, text });
    console.log(`  [${(atMs / 1000).toFixed(1).padStart(6)} s] ${text}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes one part down the planned way and brings it back after its down time. */
async function inject(stack: Stack, fault: PlannedFault, timeline: Timeline): Promise<void> {
  const down = `${(fault.downMs / 1000).toFixed(1)} s`;
  switch (fault.kind) {
    case 'worker-kill': {
      const pid = stack.worker.pid;
      await stack.worker.kill();
      timeline.note(`worker killed (SIGKILL, pid ${pid}); restart in ${down}`);
      await sleep(fault.downMs);
      await stack.worker.start();
      timeline.note(`worker restarted (pid ${stack.worker.pid}), polling`);
      return;
    }
    case 'postgres-crash':
      await stack.postgres.crash();
      timeline.note(`Postgres stopped with pg_ctl stop -m immediate; restart in ${down}`);
      await sleep(fault.downMs);
      await stack.postgres.restart();
      timeline.note('Postgres restarted (crash recovery done), accepting connections');
      return;
    case 'smtp-outage':
      await stack.smtp.takeDown();
      timeline.note(`SMTP server down (port ${stack.smtp.port} refuses connections) for ${down}`);
      await sleep(fault.downMs);
      await stack.smtp.bringUp();
      timeline.note('SMTP server back up');
  }
}

/** Runs the plan's faults in order at their times; stops early (leaving every part up) when aborted. */
export async function injectFaults(
  stack: Stack,
  plan: SoakPlan,
  startedAtMs: number,
  timeline: Timeline,
  aborted: () => boolean,
): Promise<void> {
  for (const fault of plan.faults) {
    while (!aborted() && Date.now() < startedAtMs + fault.atMs) await sleep(200);
    if (aborted()) return;
    await inject(stack, fault, timeline);
  }
}
