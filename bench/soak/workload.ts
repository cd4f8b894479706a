import type { ApiClient } from './api-client';
import { DistrictRoster, dropHostedFile, hostileFileContent, type HostileFile } from './roster-files';
import { SeededRandom } from './seeded-random';
import { phaseAt, type Phase, type SoakPlan } from './soak-plan';

/**
 * The districts and what their admins do: set up through the API, then Sync Now, follow the run to
 * its end, send the next export, Sync Now again, for as long as the soak starts runs.
 */
/** A district whose own SFTP server misbehaves (test/support/hostile-sftp-server.ts modes). */
export type HostileServer = 'stall-after-auth' | 'trickle';
export type DistrictKind = 'healthy' | HostileFile | HostileServer;

export const isHostileFile = (kind: DistrictKind): kind is HostileFile =>
  kind === 'quote-header' || kind === 'long-line' || kind === 'cut-row';

export interface SoakDistrict {
  id: string;
  slug: string;
  kind: DistrictKind;
  /** The district's own API key: its admin's script calls the API with it, not with the operator token. */
  api: ApiClient;
  roster?: DistrictRoster;
}

/** One Sync Now, as the soak saw it. */
export interface RunRecord {
  runId: string;
  districtId: string;
  kind: DistrictKind;
  phase: Phase;
  requestedAtMs: number;
  /** Healthy districts: the emails of the file this run read. */
  emails?: string[];
  /** The last status the API showed. */
  status: string;
}

export interface Refusal {
  slug: string;
  atMs: number;
  status: number;
  message: string;
}

const SCHOOLS = ['Lincoln Elementary School', 'Washington Middle School', 'Roosevelt High School'];
const FINAL = new Set(['succeeded', 'failed', 'held', 'discarded']);
const ROSTER_FILE = 'users.csv';
/** How often an admin's script looks at its run: every district together stays well under the API's rate limits. */
const POLL_MS = 1_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ExternalServer {
  host: string;
  port: number;
  username: string;
  password: string;
  hostKeyFingerprint: string;
}

export function syncConfig(slug: string, external?: ExternalServer): Record<string, unknown> {
  return {
    enabled: false,
    frequency: 'daily',
    startDate: '2026-09-01',
    timeOfDay: '02:00',
    source: external ? 'external' : 'hosted',
    fileRule: 'specific_name',
    fileName: ROSTER_FILE,
    matchingKey: 'email',
    // Every file is the truth: the soak's own changes must never be held for review.
    errorThresholdPct: -1,
    maxArchivePct: -1,
    maxArchiveCount: -1,
    maxRowDropPct: -1,
    welcomeEmails: true,
    notifyEmails: [`it-admin@${slug}.example.org`],
    notifyOnSuccess: false,
    ...(external ? { external: { ...external, path: '/' } } : {}),
  };
}

/** What support does for a new district: the district, its schools, its sync config and an API key. */
export async function createDistrict(
  operator: ApiClient,
  slug: string,
  kind: DistrictKind,
  external?: ExternalServer,
): Promise<SoakDistrict> {
  const district = await operator.must('POST', '/districts', {
    name: `Soak ${slug}`,
    slug,
    timeZone: 'America/Chicago',
  });
  const id = String(district.id);
  for (const name of SCHOOLS) await operator.must('POST', `/districts/${id}/schools`, { name });
  await operator.must('PUT', `/districts/${id}/sync-config`, syncConfig(slug, external));
  const key = await operator.must('POST', `/districts/${id}/api-keys`, { label: 'soak: nightly export' });
  return { id, slug, kind, api: operator.as(String(key.key)) };
}

export function healthyRoster(slug: string, users: number, random: SeededRandom): DistrictRoster {
  return new DistrictRoster(slug, SCHOOLS, users, random);
}

export interface WorkloadContext {
  plan: SoakPlan;
  startedAtMs: number;
  maxRuns: number;
  hostedFolder(slug: string): string;
  /** Runs started so far, across districts. */
  runs: RunRecord[];
  refusals: Refusal[];
  /** Past this moment no run is started; past settleUntilMs nobody waits for one. */
  issueUntilMs: number;
  settleUntilMs: number;
  aborted(): boolean;
}

/** One district's admin, until the soak stops starting runs and its last run has ended (or settling ran out). */
export async function driveDistrict(
  ctx: WorkloadContext,
  district: SoakDistrict,
  seed: number,
): Promise<void> {
  const random = new SeededRandom(seed);
  const healthy = district.kind === 'healthy';
  const beginAt = ctx.startedAtMs + (healthy ? random.int(0, 2_000) : ctx.plan.hostileFromMs);
  await sleep(Math.max(0, beginAt - Date.now()));
  const folder = ctx.hostedFolder(district.slug);
  if (isHostileFile(district.kind))
    dropHostedFile(folder, ROSTER_FILE, hostileFileContent(district.kind, SCHOOLS[0]));
  const issuing = () => !ctx.aborted() && Date.now() < ctx.issueUntilMs && ctx.runs.length < ctx.maxRuns;
  while (issuing()) {
    const file = district.roster?.nextFile();
    if (file) dropHostedFile(folder, ROSTER_FILE, file.csv);
    const runId = await syncNow(ctx, district, issuing);
    if (!runId) return;
    const record: RunRecord = {
      runId,
      districtId: district.id,
      kind: district.kind,
      phase: phaseAt(ctx.plan, Date.now() - ctx.startedAtMs),
      requestedAtMs: Date.now(),
      emails: file?.emails,
      status: 'queued',
    };
    ctx.runs.push(record);
    await followRun(ctx, district, record);
    if (!FINAL.has(record.status)) return;
    await sleep(random.int(300, 1_500));
  }
}

/** Sync Now until it is accepted: a refusal (database or scheduler down, rate limit) is noted and tried again. */
async function syncNow(
  ctx: WorkloadContext,
  district: SoakDistrict,
  issuing: () => boolean,
): Promise<string | undefined> {
  while (issuing()) {
    const answer = await district.api.call('POST', `/districts/${district.id}/sync-now`, { dryRun: false });
    if (answer.status === 202) return String(answer.body.runId);
    ctx.refusals.push({
      slug: district.slug,
      atMs: Date.now() - ctx.startedAtMs,
      status: answer.status,
      message: String(answer.body.message ?? '').slice(0, 160),
    });
    // A rate limit's Retry-After may be an hour away: never past the end of the soak's run window.
    const waitMs = answer.retryAfterS !== undefined ? answer.retryAfterS * 1000 : 2_000;
    await sleep(Math.max(0, Math.min(waitMs, ctx.issueUntilMs - Date.now())));
  }
  return undefined;
}

async function followRun(ctx: WorkloadContext, district: SoakDistrict, record: RunRecord): Promise<void> {
  while (!ctx.aborted() && Date.now() < ctx.settleUntilMs) {
    const answer = await district.api.call('GET', `/districts/${district.id}/runs/${record.runId}`);
    if (answer.status === 200) record.status = String(answer.body.status);
    if (FINAL.has(record.status)) return;
    await sleep(POLL_MS);
  }
}
