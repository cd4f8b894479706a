/**
 * The one definition of when a plain uploaded file is complete, shared by the hosted SFTP server
 * (before it signals the upload) and the worker (before a run reads the file): it is not unfinished
 * (open for writing, or its upload cut off) and has not changed for the quiet period
 * (UPLOAD_QUIET_SECONDS). A district's own server cannot tell us what is unfinished, so there only
 * the quiet period applies.
 */
export type PlainUploadState = { complete: true } | { complete: false; waitMs: number; reason: string };

/** What the hosted server knows of a file not to read yet: open for writing, or its last upload was cut off. */
export type UnfinishedUpload = 'open' | 'interrupted';

export function plainUploadState(
  file: { path: string; mtimeMs: number; unfinished?: UnfinishedUpload },
  nowMs: number,
  quietMs: number,
): PlainUploadState {
  const quietSeconds = Math.round(quietMs / 1000);
  if (file.unfinished === 'open') {
    return {
      complete: false,
      waitMs: quietMs,
      reason: `${file.path} is still being uploaded (it is open for writing on the hosted SFTP server); it is read once closed and unchanged for ${quietSeconds}s.`,
    };
  }
  if (file.unfinished === 'interrupted') {
    return {
      complete: false,
      waitMs: quietMs,
      reason: `${file.path} is incomplete: its last upload to the hosted SFTP server was interrupted (the connection dropped with the file open). Upload it again or resume the upload; it is read once closed and unchanged for ${quietSeconds}s.`,
    };
  }
  const quietFor = nowMs - file.mtimeMs;
  if (quietFor < quietMs) {
    return {
      complete: false,
      waitMs: quietMs - quietFor,
      reason: `${file.path} changed ${Math.round(quietFor / 1000)}s ago and may still be uploading; it is read once unchanged for ${quietSeconds}s.`,
    };
  }
  return { complete: true };
}
