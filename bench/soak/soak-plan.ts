import { SeededRandom } from './seeded-random';
import type { SoakOptions } from './soak-options';

/**
 * When things happen, fixed by the seed before anything starts. Runs are started from 0 to the
 * duration; three phases measure and stress in turn:
 *   baseline  [0, 25%):   healthy districts only, no faults: the reference run durations;
 *   hostile   [25%, 50%): hostile districts join (hostile files, a stalling server), still no faults;
 *   faults    [50%, 100%): hostile districts go on while the worker is killed, Postgres crashes and
 *                         SMTP goes down, each in its own slot so the faults do not overlap.
 */
export type Phase = 'baseline' | 'hostile' | 'faults';
export type FaultKind = 'worker-kill' | 'postgres-crash' | 'smtp-outage';

export interface PlannedFault {
  kind: FaultKind;
  /** Milliseconds after the soak's start. */
  atMs: number;
  /** How long the part stays down before it is started again. */
  downMs: number;
}

export interface SoakPlan {
  durationMs: number;
  hostileFromMs: number;
  faultsFromMs: number;
  faults: PlannedFault[];
}

const DOWN_MS: Record<FaultKind, [number, number]> = {
  'worker-kill': [2_000, 8_000],
  'postgres-crash': [3_000, 10_000],
  'smtp-outage': [15_000, 30_000],
};

export function planSoak(options: SoakOptions): SoakPlan {
  const random = new SeededRandom(options.seed);
  const durationMs = options.durationS * 1000;
  const faultsFromMs = Math.round(durationMs * 0.5);
  const kinds: FaultKind[] = [
    ...Array<FaultKind>(options.workerKills).fill('worker-kill'),
    ...Array<FaultKind>(options.postgresRestarts).fill('postgres-crash'),
    ...Array<FaultKind>(options.smtpOutages).fill('smtp-outage'),
  ];
  // A seeded shuffle, so the order of the kinds differs between seeds.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  const slotMs = kinds.length > 0 ? (durationMs - faultsFromMs) / kinds.length : 0;
  const faults = kinds.map((kind, slot): PlannedFault => {
    const [minDown, maxDown] = DOWN_MS[kind];
    // Down time never fills more than half a slot: the part is back before the next fault.
    const downMs = Math.min(random.int(minDown, maxDown), Math.floor(slotMs / 2));
    const atMs = Math.round(faultsFromMs + slot * slotMs + random.next() * (slotMs - downMs) * 0.5);
    return { kind, atMs, downMs };
  });
  return { durationMs, hostileFromMs: Math.round(durationMs * 0.25), faultsFromMs, faults };
}

export function phaseAt(plan: SoakPlan, elapsedMs: number): Phase {
  if (elapsedMs < plan.hostileFromMs) return 'baseline';
  return elapsedMs < plan.faultsFromMs ? 'hostile' : 'faults';
}
