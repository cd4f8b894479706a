import { z } from 'zod';
import { Env, withRenamedSettings } from '../config/env';

/**
 * Limits of the hosted SFTP server, from optional environment variables. Parsed once at boot;
 * a bad value fails fast naming the variable.
 */
const positiveInt = z.coerce.number().int().positive();

export const SftpConfig = z.object({
  /** Largest single file a district may upload. */
  SFTP_MAX_FILE_BYTES: positiveInt.default(2 * 1024 ** 3),
  /** Total bytes stored in one district's folder. */
  SFTP_QUOTA_BYTES: positiveInt.default(10 * 1024 ** 3),
  /**
   * Files plus folders in one district's folder tree. Empty ones cost no bytes but an inode each, and
   * make listings and the worker's folder scans long. An `_auto.csv` upload takes three (its epoch
   * folder, the file, COMPLETE), so the default holds over 3,000 uploads.
   */
  SFTP_MAX_ENTRIES: positiveInt.default(10_000),
  /** Open file and directory handles per session. */
  SFTP_MAX_HANDLES: positiveInt.default(64),
  /** Concurrent SFTP sessions per account. */
  SFTP_MAX_SESSIONS_PER_ACCOUNT: positiveInt.default(4),
  /** A connection with no SFTP request for this long is closed. */
  SFTP_IDLE_TIMEOUT_SECONDS: positiveInt.default(600),
  /** Failed logins per username and client address within 15 minutes before a 15-minute lockout. */
  SFTP_MAX_FAILED_LOGINS: positiveInt.default(5),
  /** Failed logins from one client address, whatever the usernames, before its password logins are refused. */
  SFTP_MAX_FAILED_LOGINS_PER_ADDRESS: positiveInt.default(20),
  /** Connections from one client address that have not logged in yet. */
  SFTP_MAX_UNAUTHENTICATED_PER_ADDRESS: positiveInt.default(10),
  /** Password checks (scrypt, on the thread pool file transfers use) running at once, server-wide. */
  SFTP_MAX_PASSWORD_CHECKS: positiveInt.default(2),
  /** The worker's setting: the server signals a plain upload no sooner than a run would read it. */
  UPLOAD_QUIET_SECONDS: Env.shape.UPLOAD_QUIET_SECONDS,
});
export type SftpConfigEnv = z.infer<typeof SftpConfig>;

export interface SftpLimits {
  maxFileBytes: number;
  quotaBytes: number;
  maxEntries: number;
  maxHandles: number;
  maxSessionsPerAccount: number;
  idleTimeoutMs: number;
  maxFailedLogins: number;
  maxFailedLoginsPerAddress: number;
  maxUnauthenticatedPerAddress: number;
  maxPasswordChecks: number;
  /** Password attempts that may wait for a check slot; more are refused at once. */
  maxQueuedPasswordChecks: number;
  failedLoginWindowMs: number;
  lockoutMs: number;
  quietMs: number;
  /** Largest READ answered at once; clients ask again for the rest. */
  maxReadBytes: number;
  /** Reply bytes a session may hold for a client not taking them before its READs wait. */
  maxQueuedReplyBytes: number;
  /** Requests a session may have in flight before new ones are refused (bounds memory). */
  maxPendingRequests: number;
  /** Time allowed between TCP connect and a successful login. */
  loginGraceMs: number;
}

export const LOCKOUT_WINDOW_MS = 15 * 60 * 1000;

export function loadSftpConfig(source: NodeJS.ProcessEnv = process.env): Readonly<SftpLimits> {
  const parsed = SftpConfig.safeParse(withRenamedSettings(source));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(
      `Invalid SFTP configuration:\n${lines.join('\n')}\nFix these environment variables and start again.`,
    );
  }
  return Object.freeze(toLimits(parsed.data));
}

export function toLimits(env: SftpConfigEnv): SftpLimits {
  return {
    maxFileBytes: env.SFTP_MAX_FILE_BYTES,
    quotaBytes: env.SFTP_QUOTA_BYTES,
    maxEntries: env.SFTP_MAX_ENTRIES,
    maxHandles: env.SFTP_MAX_HANDLES,
    maxSessionsPerAccount: env.SFTP_MAX_SESSIONS_PER_ACCOUNT,
    idleTimeoutMs: env.SFTP_IDLE_TIMEOUT_SECONDS * 1000,
    maxFailedLogins: env.SFTP_MAX_FAILED_LOGINS,
    maxFailedLoginsPerAddress: env.SFTP_MAX_FAILED_LOGINS_PER_ADDRESS,
    maxUnauthenticatedPerAddress: env.SFTP_MAX_UNAUTHENTICATED_PER_ADDRESS,
    maxPasswordChecks: env.SFTP_MAX_PASSWORD_CHECKS,
    maxQueuedPasswordChecks: 16,
    failedLoginWindowMs: LOCKOUT_WINDOW_MS,
    lockoutMs: LOCKOUT_WINDOW_MS,
    quietMs: env.UPLOAD_QUIET_SECONDS * 1000,
    maxReadBytes: 256 * 1024,
    maxQueuedReplyBytes: 4 * 1024 * 1024,
    maxPendingRequests: 1024,
    loginGraceMs: 120 * 1000,
  };
}
