import os from 'node:os';
import path from 'node:path';

/** Districts sending hostile files, and districts whose own SFTP server misbehaves. */
export const HOSTILE_KINDS = ['quote-header', 'long-line', 'cut-row', 'stall-after-auth', 'trickle'] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/**
 * The soak's command-line flags. Every count and duration is bounded so a run always ends: the
 * defaults take about six minutes on a 2-core machine, start-up and settling included.
 */
export interface SoakOptions {
  /** Seconds during which runs are started (baseline, hostile and fault phases together). */
  durationS: number;
  /** Healthy districts (each with its own changing roster). */
  districts: number;
  /** Users in each healthy district's first file. */
  users: number;
  /** Seed of the fault schedule and of every roster change. */
  seed: number;
  /** Most runs started in total, healthy and hostile together. */
  maxRuns: number;
  /** Seconds to wait, after the last run started, for every run to end. */
  settleS: number;
  workerKills: number;
  postgresRestarts: number;
  smtpOutages: number;
  /** The hostile districts that take part, one of each kind listed (all by default). */
  hostile: HostileKind[];
  dataDir: string;
  keepData: boolean;
}

const LIMITS: Record<string, [number, number]> = {
  duration: [30, 3600],
  districts: [1, 200],
  users: [5, 5000],
  seed: [0, 2 ** 31 - 1],
  'max-runs': [1, 10_000],
  settle: [10, 1800],
  'worker-kills': [0, 20],
  'postgres-restarts': [0, 10],
  'smtp-outages': [0, 10],
};

export const USAGE = `usage: npm run soak -- [--duration 180] [--districts 20] [--users 40] [--seed 11]
       [--max-runs 600] [--settle 600] [--worker-kills 2] [--postgres-restarts 1] [--smtp-outages 1]
       [--hostile quote-header,long-line,cut-row,stall-after-auth,trickle | --no-hostile]
       [--data-dir <folder>] [--keep-data]`;

function numberFlag(argv: string[], name: string, fallback: number): number {
  const index = argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(argv[index + 1]?.replace(/_/g, ''));
  const [min, max] = LIMITS[name];
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`--${name} expects a whole number from ${min} to ${max}\n${USAGE}`);
  return value;
}

function hostileFlag(argv: string[]): HostileKind[] {
  const index = argv.indexOf('--hostile');
  if (index < 0) return [...HOSTILE_KINDS];
  const kinds = (argv[index + 1] ?? '').split(',').filter(Boolean);
  const unknown = kinds.filter((k) => !(HOSTILE_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown.length > 0)
    throw new Error(`--hostile expects a comma-separated list of ${HOSTILE_KINDS.join(', ')}\n${USAGE}`);
  return [...new Set(kinds)] as HostileKind[];
}

export function parseSoakOptions(argv: string[]): SoakOptions {
  const known = new Set([...Object.keys(LIMITS), 'hostile', 'no-hostile', 'data-dir', 'keep-data', 'help']);
  for (const arg of argv)
    if (arg.startsWith('--') && !known.has(arg.slice(2))) throw new Error(`unknown flag ${arg}\n${USAGE}`);
  if (argv.includes('--help')) throw new Error(USAGE);
  const dataIndex = argv.indexOf('--data-dir');
  const dataDir =
    dataIndex >= 0 && argv[dataIndex + 1]
      ? path.resolve(argv[dataIndex + 1])
      : path.join(os.tmpdir(), `rostersync-soak-${process.pid}`);
  return {
    durationS: numberFlag(argv, 'duration', 180),
    districts: numberFlag(argv, 'districts', 20),
    users: numberFlag(argv, 'users', 40),
    seed: numberFlag(argv, 'seed', 11),
    maxRuns: numberFlag(argv, 'max-runs', 600),
    settleS: numberFlag(argv, 'settle', 600),
    workerKills: numberFlag(argv, 'worker-kills', 2),
    postgresRestarts: numberFlag(argv, 'postgres-restarts', 1),
    smtpOutages: numberFlag(argv, 'smtp-outages', 1),
    hostile: argv.includes('--no-hostile') ? [] : hostileFlag(argv),
    dataDir,
    keepData: argv.includes('--keep-data'),
  };
}
