import path from 'node:path';
import type { Pool } from 'pg';
import type { Env } from '../config/env';
import { FailureType, RetryableFailureType, type FetchedFile } from '../contracts/sync';
import { OpenUploadsRepository } from '../db/repositories/open-uploads.repository';
import { SyncConfigsRepository, type SyncConfigRecord } from '../db/repositories/sync-configs.repository';
import { SyncRunsRepository } from '../db/repositories/sync-runs.repository';
import { DomainError } from '../errors/domain-error';
import type { ArtifactStore } from '../storage/artifact-store';
import { withHeartbeat } from '../temporal/heartbeat';
import { fetchExternalFile } from './external-fetch';
import { failIfTooLarge, failIfUnusable } from './fetch-checks';
import { listHostedFolder, openHostedFile, statHostedFile } from './hosted-source';
import { pickFile, type DirEntry } from './pick-file';
import type { SourceLimits } from './source-watch';

export interface RunFileFetcherDeps {
  pool: Pool;
  artifacts: ArtifactStore;
  /** Root of the hosted SFTP server: one folder per district, named by its slug. */
  hostedRoot: string;
  secretKey: string;
  /** A plain file is read only once unchanged this long (it may still be uploading). */
  quietMs: number;
  /** Parallel reads from a district's own server; some servers corrupt parallel reads, so 1 is always safe. */
  downloadConcurrency: number;
  /** Largest file a run fetches (FETCH_MAX_FILE_BYTES). */
  maxFileBytes: number;
  /** A district's own server may be on a loopback or private address (EXTERNAL_SFTP_ALLOW_PRIVATE). */
  allowPrivateAddresses: boolean;
  /** How long a district's own server may take to answer, or go without sending, before the fetch fails. */
  sourceLimits: SourceLimits;
}

/** What the attempt running a fetch tells it (a Temporal activity's; outside one, nothing). */
export interface FetchAttempt {
  /** Aborts when the attempt is cancelled. */
  signal?: AbortSignal;
  /** When the attempt is cut off (its start-to-close timeout), counted from its start; 0: never. */
  limitMs?: number;
}

/** The FETCH_* limits on a district's own server, from the environment. */
export const sourceLimits = (
  env: Pick<
    Env,
    | 'FETCH_OPERATION_TIMEOUT_SECONDS'
    | 'FETCH_STALL_SECONDS'
    | 'FETCH_MIN_BYTES_PER_SECOND'
    | 'FETCH_THROUGHPUT_WINDOW_SECONDS'
  >,
): SourceLimits => ({
  operationMs: env.FETCH_OPERATION_TIMEOUT_SECONDS * 1000,
  stallMs: env.FETCH_STALL_SECONDS * 1000,
  minBytesPerSecond: env.FETCH_MIN_BYTES_PER_SECOND,
  windowMs: env.FETCH_THROUGHPUT_WINDOW_SECONDS * 1000,
});

/** One fetch of a run: where it stands, and how its copy is recorded. */
export interface RunFetch {
  runId: string;
  config: SyncConfigRecord;
  started: number;
  /** The run's recorded copy is gone or damaged: this copy replaces it. */
  replace: boolean;
  /** Records the copy kept at `fileRef` as the run's file; returns the file the run goes on with. */
  record(name: string, fileRef: string): Promise<FetchedFile>;
}

/**
 * Picks a run's file by its district's rule, copies it into the run's artifact slot and records
 * name, size and sha256. Idempotent: a retried or replayed run re-uses the copy it made.
 */
export class RunFileFetcher {
  private readonly runs: SyncRunsRepository;
  private readonly configs: SyncConfigsRepository;
  private readonly openUploads: OpenUploadsRepository;

  constructor(private readonly deps: RunFileFetcherDeps) {
    this.runs = new SyncRunsRepository(deps.pool);
    this.configs = new SyncConfigsRepository(deps.pool);
    this.openUploads = new OpenUploadsRepository(deps.pool);
  }

  async fetch(runId: string, attempt: FetchAttempt = {}): Promise<FetchedFile> {
    const started = Date.now();
    const run = await this.runs.get(runId);
    if (!run) throw new DomainError(FailureType.RunNotFound, `Run ${runId} does not exist`);
    // A retry or a reset re-reads the copy this run already made: the same bytes as the first attempt.
    if (run.file_ref && run.file_name && run.file_size !== null && run.file_sha256) {
      const existing = await this.deps.artifacts.stat(run.file_ref);
      if (existing?.sha256 === run.file_sha256) {
        return { fileRef: run.file_ref, name: run.file_name, size: existing.size, sha256: existing.sha256 };
      }
    }
    const source = await this.configs.forRun(runId);
    if (!source) {
      throw new DomainError(
        FailureType.ConfigMissing,
        `Run ${runId} has no district sync config: save one (PUT /districts/:id/sync-config) and run again.`,
      );
    }
    const replace = run.file_ref !== null;
    const fetch: RunFetch = {
      runId,
      config: source.config,
      started,
      replace,
      record: (name, fileRef) => this.record(runId, name, fileRef, started, replace),
    };
    // A district's own server: heartbeats follow the download's progress. Our hosted folder is
    // local disk: a timer heartbeat notices a dead worker in seconds.
    if (source.config.source === 'external') return await fetchExternalFile(this.deps, fetch, attempt);
    return await withHeartbeat('fetch', () => this.fetchHosted(fetch, source.slug));
  }

  private async fetchHosted(fetch: RunFetch, slug: string): Promise<FetchedFile> {
    const { config } = fetch;
    const root = path.join(this.deps.hostedRoot, slug);
    const entries = await listHostedFolder(root);
    const pick = pickFile(entries, config.fileRule, {
      fileName: config.fileName,
      nowMs: Date.now(),
      quietMs: this.deps.quietMs,
      // Asked after listing: a file still open then is open now, whatever its mtime says.
      unfinished: await this.openUploads.unfinished(config.districtId),
    });
    failIfUnusable(pick);
    failIfTooLarge(pick.entry, this.deps.maxFileBytes, 'the hosted SFTP server');
    const name = path.posix.basename(pick.entry.path);
    const { fileRef } = await this.deps.artifacts.putForRun(
      fetch.runId,
      name,
      pick.entry.size,
      openHostedFile(root, pick.entry.path),
      () => this.failIfChangedWhileCopied(root, config.districtId, pick.entry),
    );
    return await fetch.record(name, fileRef);
  }

  /** A re-upload in place during the copy would leave a mixed file: such a copy is discarded. */
  private async failIfChangedWhileCopied(root: string, districtId: string, listed: DirEntry): Promise<void> {
    const now = await statHostedFile(root, listed.path);
    const unfinished = (await this.openUploads.unfinished(districtId)).get(listed.path);
    if (now?.size === listed.size && now.mtimeMs === listed.mtimeMs && !unfinished) return;
    throw new DomainError(
      RetryableFailureType.FileStillUploading,
      `${listed.path} changed while it was copied (it was uploaded again meanwhile), so the copy was discarded. The run reads it once the upload is finished and unchanged for ${Math.round(this.deps.quietMs / 1000)}s.`,
    );
  }

  private async record(
    runId: string,
    name: string,
    fileRef: string,
    started: number,
    replace: boolean,
  ): Promise<FetchedFile> {
    const stat = await this.deps.artifacts.stat(fileRef);
    if (!stat) throw new Error(`Copied file ${fileRef} vanished from the artifact store`);
    const file = { fileRef, name, size: stat.size, sha256: stat.sha256 };
    if (await this.runs.recordFetched(runId, file, Date.now() - started, replace)) return file;
    // Another attempt of this run recorded its file first and the run went on with it: so does this one.
    const run = await this.runs.get(runId);
    if (!run?.file_ref || !run.file_name || run.file_size === null || !run.file_sha256)
      throw new Error(`Run ${runId} moved past fetching without a recorded file`);
    return { fileRef: run.file_ref, name: run.file_name, size: run.file_size, sha256: run.file_sha256 };
  }
}
