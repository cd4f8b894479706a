import { FailureType, RetryableFailureType } from '../contracts/sync';
import { DomainError } from '../errors/domain-error';
import { gib } from '../storage/artifact-store';
import type { DirEntry, PickResult } from './pick-file';

/** No file to read fails the run; a file still uploading is retried. */
export function failIfUnusable(pick: PickResult): asserts pick is Extract<PickResult, { kind: 'file' }> {
  if (pick.kind === 'none') throw new DomainError(FailureType.FileNotFound, pick.reason);
  // Retryable: Temporal tries again with backoff, by which time the upload has usually finished.
  if (pick.kind === 'uploading') throw new DomainError(RetryableFailureType.FileStillUploading, pick.reason);
}

/** Checked on the listed size, before a byte is copied. */
export function failIfTooLarge(entry: DirEntry, maxFileBytes: number, where: string): void {
  if (entry.size <= maxFileBytes) return;
  throw new DomainError(
    FailureType.FileTooLarge,
    `The file ${entry.path} on ${where} is ${entry.size} bytes (${gib(entry.size)}), over the limit of ${maxFileBytes} bytes (${gib(maxFileBytes)}, FETCH_MAX_FILE_BYTES); nothing was copied. A roster is rarely this large: check that the district exports the right file. If it is, raise FETCH_MAX_FILE_BYTES on the worker and run again.`,
  );
}
