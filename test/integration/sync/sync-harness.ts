import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after } from 'node:test';
import type { Pool } from 'pg';
import {
  createSyncEngineActivities,
  type SyncEngineActivities,
} from '../../../activities/sync-engine.activities';
import type { ApplyResult, PlanResult, Safeguards, StageResult } from '../../../lib/contracts/sync';
import type { MatchingKey } from '../../../lib/contracts/sync-config';
import { DistrictsRepository } from '../../../lib/db/repositories/districts.repository';
import { SchoolsRepository } from '../../../lib/db/repositories/schools.repository';
import { SyncRunsRepository, type SyncRunRow } from '../../../lib/db/repositories/sync-runs.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { FIXTURES } from '../../support/paths';
import type { TestDatabase } from '../../support/postgres';
import { useTestDatabase } from '../../support/suite';

export const SCHOOLS = ['Minty Middle School', 'Lincoln Elementary', 'Roosevelt High School'];

export interface RunOutcome {
  runId: string;
  stage: StageResult;
  plan?: PlanResult;
  apply?: ApplyResult;
  run: SyncRunRow;
}

/** A district with schools and a sync config, and the engine's real activities over a real database. */
export class SyncHarness {
  readonly artifacts: ArtifactStore;
  readonly activities: SyncEngineActivities;
  readonly runs: SyncRunsRepository;
  /** The safeguards startRun handed each run, as the workflow receives them. */
  readonly safeguards = new Map<string, Safeguards>();
  districtId = '';

  /** `artifacts`: another harness's store, to go on with its runs (e.g. on a new pool after a crash). */
  constructor(
    readonly pool: Pool,
    artifacts?: ArtifactStore,
  ) {
    this.artifacts =
      artifacts ?? new ArtifactStore(fs.mkdtempSync(path.join(os.tmpdir(), 'sync-artifacts-')));
    this.activities = createSyncEngineActivities({ pool, artifacts: this.artifacts });
    this.runs = new SyncRunsRepository(pool);
  }

  async setup(config: {
    matchingKey: MatchingKey;
    coachingGroups?: string[];
    errorThresholdPct?: number;
    schools?: readonly string[];
  }): Promise<this> {
    const slug = `d-${crypto.randomBytes(4).toString('hex')}`;
    const district = await new DistrictsRepository(this.pool).create({
      name: 'Springfield Unified',
      slug,
      timeZone: 'America/Chicago',
    });
    this.districtId = district!.id;
    for (const name of config.schools ?? SCHOOLS)
      await new SchoolsRepository(this.pool).create(this.districtId, name);
    await this.pool.query(
      `INSERT INTO sync_configs (district_id, matching_key, coaching_groups, error_threshold_pct)
       VALUES ($1, $2, $3, $4)`,
      [this.districtId, config.matchingKey, config.coachingGroups ?? [], config.errorThresholdPct ?? -1],
    );
    return this;
  }

  /**
   * A run whose file (a fixture under test/fixtures/sync, or `csv/<name>` under test/fixtures/csv,
   * or CSV text) is already in the artifact store, as fetchFile leaves it.
   */
  async newRun(file: RunFile, dryRun = false): Promise<string> {
    const { runId } = await this.activities.createRun({
      districtId: this.districtId,
      trigger: 'sync_now',
      dryRun,
    });
    const name = 'fixture' in file ? path.basename(file.fixture) : file.name;
    const source =
      'fixture' in file
        ? fs.createReadStream(fixturePath(file.fixture))
        : Readable.from([Buffer.from(file.text, 'utf8')]);
    const ref = this.artifacts.refFor(runId, name);
    const { size, sha256 } = await this.artifacts.put(ref, source);
    await this.runs.update(runId, { file_ref: ref, file_name: name, file_size: size, file_sha256: sha256 });
    const started = await this.activities.startRun({
      runId,
      workflowId: `sync-run:${this.districtId}:${runId}`,
    });
    this.safeguards.set(runId, started.safeguards);
    return runId;
  }

  /** stage -> plan -> apply -> finish, as the workflow does when no safeguard stops the run. */
  async sync(file: RunFile, dryRun = false): Promise<RunOutcome> {
    const runId = await this.newRun(file, dryRun);
    const stage = await this.activities.stageFile({ runId });
    if (stage.fatal) {
      await this.activities.finishRun({
        runId,
        status: 'failed',
        failureType: stage.fatal.type,
        failureMessage: stage.fatal.message,
      });
      return { runId, stage, run: (await this.runs.get(runId))! };
    }
    const plan = await this.activities.planChanges({ runId });
    const apply = dryRun ? undefined : await this.activities.applyChanges({ runId });
    await this.activities.finishRun({ runId, status: 'succeeded' });
    return { runId, stage, plan, apply, run: (await this.runs.get(runId))! };
  }

  async user(where: string, value: string): Promise<UserRow | undefined> {
    const { rows } = await this.pool.query<UserRow>(
      `SELECT u.id, u.email, u.first_name, u.last_name, u.internal_id, u.role, u.status, u.protected,
              s.name AS school, u.coach_email, u.phone, u.custom_fields, u.updated_at, u.last_run_id
       FROM users u LEFT JOIN schools s ON s.id = u.school_id
       WHERE u.district_id = $1 AND ${where} = $2 ORDER BY u.created_at`,
      [this.districtId, value],
    );
    return rows[rows.length - 1];
  }

  async users(): Promise<UserRow[]> {
    const { rows } = await this.pool.query<UserRow>(
      `SELECT u.id, u.email, u.first_name, u.last_name, u.internal_id, u.role, u.status, u.protected,
              s.name AS school, u.coach_email, u.phone, u.custom_fields, u.updated_at, u.last_run_id
       FROM users u LEFT JOIN schools s ON s.id = u.school_id WHERE u.district_id = $1 ORDER BY u.email`,
      [this.districtId],
    );
    return rows;
  }

  async groupMembers(): Promise<Record<string, string[]>> {
    const { rows } = await this.pool.query<{ name: string; emails: string[] }>(
      `SELECT g.name, array_agg(u.email ORDER BY u.email) FILTER (WHERE u.id IS NOT NULL) AS emails
       FROM groups g LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id
       WHERE g.district_id = $1 GROUP BY g.name`,
      [this.districtId],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.emails ?? []]));
  }

  async errors(runId: string): Promise<RunError[]> {
    const { rows } = await this.pool.query<RunError>(
      `SELECT row_number, column_name, value, code, severity, message FROM run_errors
       WHERE run_id = $1 ORDER BY row_number NULLS FIRST, code`,
      [runId],
    );
    return rows;
  }

  cleanup(): void {
    fs.rmSync(this.artifacts.root, { recursive: true, force: true });
  }
}

/** What `write` writes to a stream (a report download), as text. */
export async function streamedText(write: (out: PassThrough) => Promise<void>): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await write(out);
  return Buffer.concat(chunks).toString('utf8');
}

export type DistrictConfig = Parameters<SyncHarness['setup']>[0];

/**
 * The sync tests' suite fixture: a database made before the suite's tests and dropped after them,
 * and `district(config)` for a district on it with the engine's activities (its artifact folder
 * goes after the suite too).
 */
export function useSyncDistricts(): {
  db: TestDatabase;
  district: (config: DistrictConfig) => Promise<SyncHarness>;
} {
  const db = useTestDatabase();
  const harnesses: SyncHarness[] = [];
  after(() => {
    for (const h of harnesses) h.cleanup();
  });
  return {
    db,
    district: async (config) => {
      const h = await new SyncHarness(db.pool).setup(config);
      harnesses.push(h);
      return h;
    },
  };
}

export interface RunError {
  row_number: number | null;
  column_name: string | null;
  value: string | null;
  code: string;
  severity: 'fatal' | 'error' | 'warning';
  message: string;
}

export type RunFile = { fixture: string } | { name: string; text: string };

export function fixturePath(fixture: string): string {
  return fixture.includes('/') ? path.join(FIXTURES, fixture) : path.join(FIXTURES, 'sync', fixture);
}

export interface UserRow {
  id: string;
  email: string | null;
  first_name: string;
  last_name: string;
  internal_id: string | null;
  role: string | null;
  status: 'active' | 'archived';
  protected: boolean;
  school: string | null;
  coach_email: string | null;
  phone: string | null;
  custom_fields: Record<string, string>;
  updated_at: Date;
  last_run_id: string | null;
}
