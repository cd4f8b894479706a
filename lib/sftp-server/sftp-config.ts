import { loadEnvPart, SftpServerEnv } from '../config/env';

/**
 * Limits of the hosted SFTP server: its settings of the one environment schema (lib/config/env.ts,
 * SFTP_* and UPLOAD_QUIET_SECONDS) in the units the server works in, beside the fixed ones.
 */

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

const LOCKOUT_WINDOW_MS = 15 * 60 * 1000;

/** The SFTP settings alone, for a server started without the rest of the environment (tests, benchmarks). */
export function loadSftpConfig(source: NodeJS.ProcessEnv = process.env): Readonly<SftpLimits> {
  return Object.freeze(sftpLimits(loadEnvPart(SftpServerEnv, source)));
}

export function sftpLimits(env: SftpServerEnv): SftpLimits {
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
