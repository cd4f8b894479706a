import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import type { Env } from '../lib/config/env';
import { FailureType, RetryableFailureType, type FetchedFile } from '../lib/contracts/sync';
import { decryptSecret } from '../lib/crypto/secret-box';
import { OpenUploadsRepository } from '../lib/db/repositories/open-uploads.repository';
import { SyncRunsRepository } from '../lib/db/repositories/sync-runs.repository';
import {
  connectExternal,
  downloadExternal,
  ExternalSourceError,
  listExternalFolder,
} from '../lib/files/external-sftp-source';
import { listHostedFolder, openHostedFile, statHostedFile } from '../lib/files/hosted-source';
import { pickFile, type DirEntry, type FileRule, type PickResult } from '../lib/files/pick-file';
import { SourceWatch, type SourceLimits } from '../lib/files/source-watch';
import { type ArtifactStore, gib } from '../lib/storage/artifact-store';
import { heartbeat, withHeartbeat } from '../lib/temporal/heartbeat';
import type { SyncActivities } from './types';

export interface FetchFileDeps {
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

interface SourceConfig {
  district_id: string;
  slug: string;
  source: 'hosted' | 'external';
  file_rule: FileRule;
  file_name: string | null;
  external_host: string | null;
  external_port: number | null;
  external_username: string | null;
  external_password_enc: string | null;
  external_key_enc: string | null;
  external_host_key: string | null;
  external_path: string | null;
}

function failIfUnusable(pick: PickResult): asserts pick is Extract<PickResult, { kind: 'file' }> {
  if (pick.kind === 'none') throw ApplicationFailure.nonRetryable(pick.reason, FailureType.FileNotFound);
  // Retryable: Temporal tries again with backoff, by which time the upload has usually finished.
  if (pick.kind === 'uploading')
    throw ApplicationFailure.retryable(pick.reason, RetryableFailureType.FileStillUploading);
}

/** Inside an activity, its cancellation; outside one (tests, benchmark), none. */
function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Inside an activity, when this attempt is cut off (its start-to-close timeout); outside one, unknown. */
function attemptLimit(startedMs: number): { deadlineMs: number; limitMs: number } | undefined {
  let limitMs: number;
  try {
    limitMs = Context.current().info.startToCloseTimeoutMs;
  } catch {
    return undefined;
  }
  return limitMs > 0 ? { deadlineMs: startedMs + limitMs, limitMs } : undefined;
}

/** The worker's log, for what support may see and a district must not (outside an activity: none). */
function logForSupport(message: string, detail: Record<string, string>): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return;
  }
  ctx.log.warn(message, detail);
}

/**
 * Heartbeats with the bytes copied so far, at most once a second, and only when something moved
 * (bytes, or an answered request): a server that stops answering stops the heartbeat, and the
 * watch fails the fetch before the heartbeat timeout would.
 */
function progressHeartbeat(): (bytes?: number) => void {
  let sentAt = 0;
  let copied = 0;
  return (bytes = copied) => {
    copied = bytes;
    const now = Date.now();
    if (now - sentAt < 1000) return;
    sentAt = now;
    heartbeat({ stage: 'fetch', bytes });
  };
}

/**
 * fetchFile: picks the district's file by its rule, copies it into the run's artifact slot and
 * records name, size and sha256. Idempotent: a retried or replayed run re-uses the copy it made.
 */
export function createFetchFileActivities(deps: FetchFileDeps): Pick<SyncActivities, 'fetchFile'> {
  const runs = new SyncRunsRepository(deps.pool);
  const openUploads = new OpenUploadsRepository(deps.pool);

  async function sourceConfig(runId: string): Promise<SourceConfig> {
    const { rows } = await deps.pool.query<SourceConfig>(
      `SELECT d.id AS district_id, d.slug, c.source, c.file_rule, c.file_name, c.external_host, c.external_port, c.external_username,
              c.external_password_enc, c.external_key_enc, c.external_host_key, c.external_path
       FROM sync_runs r JOIN districts d ON d.id = r.district_id JOIN sync_configs c ON c.district_id = d.id
       WHERE r.id = $1`,
      [runId],
    );
    if (!rows[0]) {
      throw ApplicationFailure.nonRetryable(
        `Run ${runId} has no district sync config: save one (PUT /districts/:id/sync-config) and run again.`,
        FailureType.ConfigMissing,
      );
    }
    return rows[0];
  }

  /** Checked on the listed size, before a byte is copied. */
  function failIfTooLarge(entry: DirEntry, where: string): void {
    if (entry.size <= deps.maxFileBytes) return;
    throw ApplicationFailure.nonRetryable(
      `The file ${entry.path} on ${where} is ${entry.size} bytes (${gib(entry.size)}), over the limit of ${deps.maxFileBytes} bytes (${gib(deps.maxFileBytes)}, FETCH_MAX_FILE_BYTES); nothing was copied. A roster is rarely this large: check that the district exports the right file. If it is, raise FETCH_MAX_FILE_BYTES on the worker and run again.`,
      FailureType.FileTooLarge,
    );
  }

  async function record(
    runId: string,
    name: string,
    fileRef: string,
    started: number,
    replace: boolean,
  ): Promise<FetchedFile> {
    const stat = await deps.artifacts.stat(fileRef);
    if (!stat) throw new Error(`Copied file ${fileRef} vanished from the artifact store`);
    const file = { fileRef, name, size: stat.size, sha256: stat.sha256 };
    if (await runs.recordFetched(runId, file, Date.now() - started, replace)) return file;
    // Another attempt of this run recorded its file first and the run went on with it: so does this one.
    const run = await runs.get(runId);
    if (!run?.file_ref || !run.file_name || run.file_size === null || !run.file_sha256)
      throw new Error(`Run ${runId} moved past fetching without a recorded file`);
    return { fileRef: run.file_ref, name: run.file_name, size: run.file_size, sha256: run.file_sha256 };
  }

  /** A re-upload in place during the copy would leave a mixed file: such a copy is discarded. */
  async function failIfChangedWhileCopied(root: string, districtId: string, listed: DirEntry): Promise<void> {
    const now = await statHostedFile(root, listed.path);
    const unfinished = (await openUploads.unfinished(districtId)).get(listed.path);
    if (now?.size === listed.size && now.mtimeMs === listed.mtimeMs && !unfinished) return;
    throw ApplicationFailure.retryable(
      `${listed.path} changed while it was copied (it was uploaded again meanwhile), so the copy was discarded. The run reads it once the upload is finished and unchanged for ${Math.round(deps.quietMs / 1000)}s.`,
      RetryableFailureType.FileStillUploading,
    );
  }

  async function fetchHosted(
    runId: string,
    cfg: SourceConfig,
    started: number,
    replace: boolean,
  ): Promise<FetchedFile> {
    const root = path.join(deps.hostedRoot, cfg.slug);
    const entries = await listHostedFolder(root);
    const pick = pickFile(entries, cfg.file_rule, {
      fileName: cfg.file_name,
      nowMs: Date.now(),
      quietMs: deps.quietMs,
      // Asked after listing: a file still open then is open now, whatever its mtime says.
      unfinished: await openUploads.unfinished(cfg.district_id),
    });
    failIfUnusable(pick);
    failIfTooLarge(pick.entry, 'the hosted SFTP server');
    const name = path.posix.basename(pick.entry.path);
    const { fileRef } = await deps.artifacts.putForRun(
      runId,
      name,
      pick.entry.size,
      openHostedFile(root, pick.entry.path),
      () => failIfChangedWhileCopied(root, cfg.district_id, pick.entry),
    );
    return await record(runId, name, fileRef, started, replace);
  }

  async function fetchExternal(
    runId: string,
    cfg: SourceConfig,
    started: number,
    replace: boolean,
  ): Promise<FetchedFile> {
    if (!cfg.external_host || !cfg.external_username || !cfg.external_host_key) {
      throw ApplicationFailure.nonRetryable(
        'The sync config reads from an external SFTP server but its host, username or host key fingerprint is missing.',
        FailureType.ConfigMissing,
      );
    }
    const root = (cfg.external_path ?? '.').replace(/\/+$/, '') || '/';
    const port = cfg.external_port ?? 22;
    const onProgress = progressHeartbeat();
    const watch = new SourceWatch(
      deps.sourceLimits,
      `${cfg.external_host}:${port}`,
      cancellationSignal(),
      () => onProgress(),
      attemptLimit(started),
    );
    let connection: Awaited<ReturnType<typeof connectExternal>> | undefined;
    let reserved: string | undefined;
    try {
      connection = await connectExternal(
        {
          host: cfg.external_host,
          port,
          username: cfg.external_username,
          password: cfg.external_password_enc
            ? decryptSecret(deps.secretKey, cfg.external_password_enc)
            : undefined,
          privateKey: cfg.external_key_enc ? decryptSecret(deps.secretKey, cfg.external_key_enc) : undefined,
          hostKeyFingerprint: cfg.external_host_key,
          path: root,
        },
        { allowPrivateAddresses: deps.allowPrivateAddresses, watch },
      );
      const entries: DirEntry[] = await listExternalFolder(connection.sftp, root, watch);
      const pick = pickFile(entries, cfg.file_rule, {
        fileName: cfg.file_name,
        nowMs: Date.now(),
        quietMs: deps.quietMs,
      });
      failIfUnusable(pick);
      failIfTooLarge(pick.entry, `${cfg.external_host}:${port}`);
      const name = path.posix.basename(pick.entry.path);
      const fileRef = await deps.artifacts.reserveForRun(runId, name, pick.entry.size);
      reserved = fileRef;
      const local = deps.artifacts.resolve(fileRef);
      await fs.promises.mkdir(path.dirname(local), { recursive: true });
      // Copies exactly the listed size; a file that changed meanwhile fails retryably.
      await downloadExternal(connection.sftp, `${root}/${pick.entry.path}`, local, {
        size: pick.entry.size,
        concurrency: deps.downloadConcurrency,
        watch,
        onProgress,
      });
      // Hashing the local copy is our own work: a timer heartbeat is right for it.
      return await withHeartbeat('fetch', async () => {
        const fetched = await record(runId, name, fileRef, started, replace);
        // This attempt's own slot, unused when another attempt's file was recorded first.
        if (fetched.fileRef !== fileRef) await deps.artifacts.release(fileRef);
        return fetched;
      });
    } catch (err) {
      // Failed or cancelled: the reserved room no longer counts against the district's bound.
      if (reserved) await deps.artifacts.release(reserved);
      const type = (err as { type?: unknown }).type;
      if (type === RetryableFailureType.SourceStalled)
        throw ApplicationFailure.retryable((err as Error).message, type);
      if (err instanceof ExternalSourceError) {
        if (err.detail) logForSupport(err.message, { ...err.detail, runId });
        throw ApplicationFailure.nonRetryable(err.message, err.type);
      }
      throw err;
    } finally {
      connection?.close();
      watch.dispose();
    }
  }

  return {
    async fetchFile({ runId }) {
      const started = Date.now();
      const run = await runs.get(runId);
      if (!run) throw ApplicationFailure.nonRetryable(`Run ${runId} does not exist`, FailureType.RunNotFound);
      // A retry or a reset re-reads the copy this run already made: the same bytes as the first attempt.
      if (run.file_ref && run.file_name && run.file_size !== null && run.file_sha256) {
        const existing = await deps.artifacts.stat(run.file_ref);
        if (existing?.sha256 === run.file_sha256) {
          return { fileRef: run.file_ref, name: run.file_name, size: existing.size, sha256: existing.sha256 };
        }
      }
      // The recorded copy is gone or damaged: this attempt's copy replaces it.
      const replace = run.file_ref !== null;
      const cfg = await sourceConfig(runId);
      // A district's own server: heartbeats follow the download's progress. Our hosted folder is
      // local disk: a timer heartbeat notices a dead worker in seconds.
      if (cfg.source === 'external') return await fetchExternal(runId, cfg, started, replace);
      return await withHeartbeat('fetch', () => fetchHosted(runId, cfg, started, replace));
    },
  };
}
