import { z } from 'zod';

/**
 * The one definition of rostersync's environment. Parsed once at boot into a frozen object;
 * a bad value fails fast with the variable's name and what it expects.
 */
const port = z.coerce.number().int().min(1).max(65535);

/**
 * The hosted SFTP server's limits (apps/sftp; lib/sftp-server/sftp-config.ts turns them into the
 * server's SftpLimits). Optional, each with its default.
 */
const positiveInt = z.coerce.number().int().positive();
const SFTP_SERVER_SETTINGS = {
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
};

export const Env = z.object({
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgres:// URL'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('rostersync'),
  /**
   * TLS to Temporal (Temporal Cloud, or a self-hosted cluster behind TLS): on by itself with any of
   * the files or an API key below. CA: the server's root certificate when the system does not trust
   * it; CERT + KEY: a client certificate for mutual TLS; SERVER_NAME: the name the certificate is for
   * when it differs from TEMPORAL_ADDRESS's host.
   */
  TEMPORAL_TLS: z
    .enum(['true', 'false'], "TEMPORAL_TLS must be 'true' or 'false'")
    .default('false')
    .transform((value) => value === 'true'),
  TEMPORAL_TLS_CA_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** A Temporal Cloud API key (sent over TLS as the Authorization header). */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  SMTP_URL: z.string().default('smtp://127.0.0.1:1025'),
  MAIL_FROM: z.string().default('rostersync <no-reply@rostersync.local>'),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port.default(3000),
  /**
   * Base URL put in admin emails' links (without a trailing slash); defaults to
   * http://API_HOST:API_PORT, and is required when the API listens on every address.
   */
  PUBLIC_API_URL: z
    .string()
    .url('PUBLIC_API_URL must be the address admins open, e.g. https://rostersync.example.org')
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  /** Bearer token required by every API call except /health and /docs. */
  API_TOKEN: z.string().min(16, 'API_TOKEN must be at least 16 characters'),
  /** Requests per minute one credential (operator token or district key) may make; 429 beyond. */
  API_RATE_LIMIT_PER_CREDENTIAL: z.coerce.number().int().min(1).default(1200),
  /** Requests per minute from one client address, credentials or not; 429 beyond. */
  API_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).default(2400),
  /**
   * Reverse proxies in front of the API whose X-Forwarded-For is believed for the client address;
   * 0 (direct connections) ignores the header, so a client cannot pick its own address.
   */
  API_TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /**
   * Report downloads (errors.csv, plan.csv) one district, whatever keys it uses, may have in progress
   * at once, and the operator token as many; 429 beyond.
   */
  API_EXPORTS_PER_DISTRICT: z.coerce.number().int().min(1).max(20).default(2),
  /**
   * Database connections kept apart for report downloads, so slow downloads never starve requests;
   * above twice API_EXPORTS_PER_DISTRICT, so one district and the operator leave room for others.
   */
  API_EXPORT_CONNECTIONS: z.coerce.number().int().min(1).max(50).default(5),
  /** A download whose client reads nothing for this long is disconnected. */
  API_EXPORT_SEND_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(30),
  /** A download still going after this long is cut, however it is read: a trickle cannot keep its slot. */
  API_EXPORT_DEADLINE_SECONDS: z.coerce.number().int().min(1).default(600),
  /** Sync Now and retries per district in any hour; a Sync Now merged into a queued run is free. */
  SYNC_NOW_PER_HOUR: z.coerce.number().int().min(1).default(12),
  /** Serve the OpenAPI docs at /docs and /docs-json; turn off on a public deployment. */
  API_DOCS: z
    .enum(['true', 'false'], "API_DOCS must be 'true' or 'false'")
    .default('true')
    .transform((value) => value === 'true'),
  SFTP_HOST: z.string().default('127.0.0.1'),
  SFTP_PORT: port.default(2222),
  /** Host name districts are told to connect to (what the SFTP server is reachable as). */
  SFTP_PUBLIC_HOST: z.string().default('127.0.0.1'),
  ...SFTP_SERVER_SETTINGS,
  DATA_DIR: z.string().default('.data'),
  /** 32-byte key (hex or base64) encrypting credentials for districts' own SFTP servers. */
  SECRET_KEY: z.string().min(32, 'SECRET_KEY must be 32 bytes as hex (64 chars) or base64 (44 chars)'),
  /** Parallel reads when downloading from a district's own SFTP server (1 for servers that mangle them). */
  SFTP_DOWNLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /**
   * A plain uploaded file counts as complete once closed and unchanged this long: the hosted SFTP
   * server signals it then, and a run reads it no sooner (lib/files/upload-quiet.ts). Replaces
   * FETCH_QUIET_SECONDS and SFTP_QUIET_SECONDS, still accepted (RENAMED_SETTINGS).
   */
  UPLOAD_QUIET_SECONDS: z.coerce.number().min(0).max(3600).default(30),
  /**
   * Longest wait for a district's own SFTP server to answer one request (login, listing, open).
   * Under the fetch activity's 30 s heartbeat timeout, so the fetch fails itself, with the reason.
   */
  FETCH_OPERATION_TIMEOUT_SECONDS: z.coerce
    .number()
    .min(1)
    .max(25, 'FETCH_OPERATION_TIMEOUT_SECONDS must stay under the 30 s heartbeat timeout of the fetch')
    .default(20),
  /** Longest gap without a byte while downloading from a district's own server (same bound). */
  FETCH_STALL_SECONDS: z.coerce
    .number()
    .min(1)
    .max(25, 'FETCH_STALL_SECONDS must stay under the 30 s heartbeat timeout of the fetch')
    .default(20),
  /**
   * Least average download speed from a district's own server over FETCH_THROUGHPUT_WINDOW_SECONDS;
   * slower fails the attempt (retried). A 2 GiB file needs about 1.2 MB/s to finish within the
   * fetch's 30 minutes, far above this floor, which only stops a server that trickles.
   */
  FETCH_MIN_BYTES_PER_SECOND: z.coerce
    .number()
    .int()
    .min(0)
    .default(32 * 1024),
  FETCH_THROUGHPUT_WINDOW_SECONDS: z.coerce.number().min(1).max(600).default(60),
  /** Largest file a run fetches; a bigger one fails the run (FileTooLarge) instead of filling the disk. */
  FETCH_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(2 * 1024 ** 3),
  /**
   * Total size of the files one district's runs keep (their originals, for history and replays);
   * the oldest are released to make room, never the last applied run's (docs/runbook.md).
   */
  DISTRICT_ARTIFACT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(10 * 1024 ** 3),
  /**
   * Whether a district's own SFTP server may be on a loopback or private address (10/8, 172.16/12,
   * 192.168/16, 100.64/10, 127/8, fc00::/7, ::1): off, the worker cannot be pointed at our own network.
   * Districts that reach us over a VPN need it on. Link-local (cloud metadata), multicast and
   * unspecified addresses are refused either way.
   */
  EXTERNAL_SFTP_ALLOW_PRIVATE: z
    .enum(['true', 'false'], "EXTERNAL_SFTP_ALLOW_PRIVATE must be 'true' or 'false'")
    .default('false')
    .transform((value) => value === 'true'),
  WORKER_MAX_ACTIVITIES: z.coerce.number().int().min(1).default(4),
  WORKER_MAX_WORKFLOW_TASKS: z.coerce.number().int().min(1).default(40),
  /**
   * District workflows kept in the worker's memory between wake-ups (about 45 KB each); the others
   * are replayed from their short history when their timer fires.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(5000),
  CATCH_UP_WINDOW_HOURS: z.coerce.number().min(0).default(24),
  /**
   * Minutes between mail sweeps, which send the mail runs still owe after their own mail step gave
   * up (an SMTP outage outlasting its retries); mail younger than this is left to the run's step.
   */
  MAIL_SWEEP_MINUTES: z.coerce.number().int().min(1).default(15),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Env = z.infer<typeof Env>;

/** `{ NAME: true }` for every setting in `settings`: the mask Env.pick takes. */
const namesOf = <T extends object>(settings: T) =>
  Object.fromEntries(Object.keys(settings).map((name) => [name, true])) as { [K in keyof T]: true };

/** The part of Env the hosted SFTP server reads: its limits and the upload quiet period it shares. */
export const SftpServerEnv = Env.pick({ ...namesOf(SFTP_SERVER_SETTINGS), UPLOAD_QUIET_SECONDS: true });
export type SftpServerEnv = z.infer<typeof SftpServerEnv>;

/** Rules across settings; kept apart so Env stays a plain object schema that parts can pick from. */
const EnvWithRules = Env.superRefine((env, ctx) => {
  if ((env.TEMPORAL_TLS_CERT_PATH === undefined) !== (env.TEMPORAL_TLS_KEY_PATH === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [env.TEMPORAL_TLS_CERT_PATH === undefined ? 'TEMPORAL_TLS_CERT_PATH' : 'TEMPORAL_TLS_KEY_PATH'],
      message:
        'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together: a client certificate needs its private key',
    });
  }
  // http://0.0.0.0:3000 is where the API listens, not an address anyone can open from a mail.
  if (!env.PUBLIC_API_URL && ['0.0.0.0', '::', '[::]'].includes(env.API_HOST)) {
    ctx.addIssue({
      code: 'custom',
      path: ['PUBLIC_API_URL'],
      message:
        'PUBLIC_API_URL is required when API_HOST listens on every address: links in admin mails need an address people can open, e.g. https://rostersync.example.org',
    });
  }
});

export class ConfigError extends Error {}

/** Old names still accepted, by their new name. Two old names for one setting must agree. */
const RENAMED_SETTINGS: Record<string, keyof Env> = {
  FETCH_QUIET_SECONDS: 'UPLOAD_QUIET_SECONDS',
  SFTP_QUIET_SECONDS: 'UPLOAD_QUIET_SECONDS',
};

/** `source` with renamed settings under their new names; the new name wins when both are set. */
export function withRenamedSettings(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...source };
  for (const [oldName, newName] of Object.entries(RENAMED_SETTINGS)) {
    const value = source[oldName];
    if (value === undefined || source[newName] !== undefined) continue;
    if (out[newName] !== undefined && out[newName] !== value) {
      throw new ConfigError(
        `Invalid configuration:\n  ${newName}: ${oldName}=${value} disagrees with another old name for ${newName} (${out[newName]}). Set ${newName} once and remove the old names.`,
      );
    }
    out[newName] = value;
  }
  return out;
}

/**
 * Parses `source` with Env, or with a part of it (Env.pick) for a process or test that needs only
 * those settings; a bad value fails with every bad setting named.
 */
export function loadEnvPart<S extends z.ZodType>(
  schema: S,
  source: NodeJS.ProcessEnv,
): Readonly<z.output<S>> {
  const parsed = schema.safeParse(withRenamedSettings(source));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(
      `Invalid configuration:\n${lines.join('\n')}\nSet these environment variables and start again.`,
    );
  }
  return Object.freeze(parsed.data);
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Readonly<Env> {
  return loadEnvPart(EnvWithRules, source);
}
