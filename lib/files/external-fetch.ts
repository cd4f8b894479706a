import fs from 'node:fs';
import path from 'node:path';
import { FailureType, type FetchedFile } from '../contracts/sync';
import { decryptSecret } from '../crypto/secret-box';
import { DomainError } from '../errors/domain-error';
import { heartbeat, withHeartbeat } from '../temporal/heartbeat';
import { connectExternal, downloadExternal, listExternalFolder } from './external-sftp-source';
import { failIfTooLarge, failIfUnusable } from './fetch-checks';
import { pickFile, type DirEntry } from './pick-file';
import type { FetchAttempt, RunFetch, RunFileFetcherDeps } from './run-file-fetcher';
import { SourceWatch } from './source-watch';

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

/** Copies a run's file from its district's own SFTP server, bounded in time by the source limits. */
export async function fetchExternalFile(
  deps: RunFileFetcherDeps,
  fetch: RunFetch,
  attempt: FetchAttempt,
): Promise<FetchedFile> {
  const { config, runId } = fetch;
  const ext = config.external;
  if (!ext?.host || !ext.username || !ext.hostKeyFingerprint) {
    throw new DomainError(
      FailureType.ConfigMissing,
      'The sync config reads from an external SFTP server but its host, username or host key fingerprint is missing.',
    );
  }
  const root = (ext.path || '.').replace(/\/+$/, '') || '/';
  const onProgress = progressHeartbeat();
  const limitMs = attempt.limitMs ?? 0;
  const watch = new SourceWatch(
    deps.sourceLimits,
    `${ext.host}:${ext.port}`,
    attempt.signal,
    () => onProgress(),
    limitMs > 0 ? { deadlineMs: fetch.started + limitMs, limitMs } : undefined,
  );
  let connection: Awaited<ReturnType<typeof connectExternal>> | undefined;
  let reserved: string | undefined;
  try {
    connection = await connectExternal(
      {
        host: ext.host,
        port: ext.port,
        username: ext.username,
        password: config.externalPasswordEnc
          ? decryptSecret(deps.secretKey, config.externalPasswordEnc)
          : undefined,
        privateKey: config.externalKeyEnc ? decryptSecret(deps.secretKey, config.externalKeyEnc) : undefined,
        passphrase: config.externalKeyPassphraseEnc
          ? decryptSecret(deps.secretKey, config.externalKeyPassphraseEnc)
          : undefined,
        hostKeyFingerprint: ext.hostKeyFingerprint,
        path: root,
      },
      { allowPrivateAddresses: deps.allowPrivateAddresses, watch },
    );
    const entries: DirEntry[] = await listExternalFolder(connection.sftp, root, watch);
    const pick = pickFile(entries, config.fileRule, {
      fileName: config.fileName,
      nowMs: Date.now(),
      quietMs: deps.quietMs,
    });
    failIfUnusable(pick);
    failIfTooLarge(pick.entry, deps.maxFileBytes, `${ext.host}:${ext.port}`);
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
      const fetched = await fetch.record(name, fileRef);
      // This attempt's own slot, unused when another attempt's file was recorded first.
      if (fetched.fileRef !== fileRef) await deps.artifacts.release(fileRef);
      return fetched;
    });
  } catch (err) {
    // Failed or cancelled: the reserved room no longer counts against the district's bound.
    if (reserved) await deps.artifacts.release(reserved);
    throw err;
  } finally {
    connection?.close();
    watch.dispose();
  }
}
