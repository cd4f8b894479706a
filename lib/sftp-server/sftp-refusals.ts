import { utils } from 'ssh2';
import { PathRejectedError } from './jail-path';

/** The statuses an SFTP request ends with when it does not succeed, and the messages clients show. */

const { STATUS_CODE } = utils.sftp;

/** A request refused on purpose, with the status and the message the client shows. */
export class Refusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const invalidHandle = () => new Refusal(STATUS_CODE.FAILURE, 'Invalid handle');

/**
 * Cutting a file short while another handle writes it would hand back bytes that handle's next
 * writes put back without being charged, so it waits until that upload is closed.
 */
export const beingWritten = () =>
  new Refusal(
    STATUS_CODE.FAILURE,
    'File is being uploaded by another transfer; try again once that upload has finished',
  );

export const tooManyEntries = (limit: number) =>
  new Refusal(
    STATUS_CODE.FAILURE,
    `Too many files and folders: your folder may hold ${limit} (SFTP_MAX_ENTRIES); remove old files or folders, such as old epoch folders in /upload`,
  );

/** Refusals and rejected paths are the client's doing; anything else is the server's and logged as such. */
export const isExpected = (err: unknown, code: number): boolean =>
  err instanceof Refusal || err instanceof PathRejectedError || code !== STATUS_CODE.FAILURE;

type Status = { code: number; message: string };

const denied = (message: string): Status => ({ code: STATUS_CODE.PERMISSION_DENIED, message });
const failure = (message: string): Status => ({ code: STATUS_CODE.FAILURE, message });

/** What a client is told for the file system's errors; any other error is "Operation failed". */
const ERRNO_STATUS: Readonly<Record<string, Status>> = {
  ENOENT: { code: STATUS_CODE.NO_SUCH_FILE, message: 'No such file or directory' },
  EACCES: denied('Permission denied'),
  EPERM: denied('Permission denied'),
  ELOOP: denied('Symbolic links are not followed here'),
  EEXIST: failure('Already exists'),
  ENOTEMPTY: failure('Directory not empty'),
  EISDIR: failure('Is a directory'),
  ENOTDIR: { code: STATUS_CODE.NO_SUCH_FILE, message: 'Not a directory' },
  EINVAL: failure('Invalid argument'),
  ENOSPC: failure('No space left on the server; contact support'),
  EDQUOT: failure('No space left on the server; contact support'),
};

export function statusFor(err: unknown): Status {
  if (err instanceof Refusal) return { code: err.code, message: err.message };
  if (err instanceof PathRejectedError) return denied(err.message);
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return errno !== undefined && Object.hasOwn(ERRNO_STATUS, errno)
    ? ERRNO_STATUS[errno]
    : failure('Operation failed');
}
