import { z } from 'zod';

/**
 * The one definition of rostersync's environment. Parsed once at boot into a frozen object;
 * a bad value fails fast with the variable's name and what it expects.
 */
const port = z.coerce.number().int().min(1).max(65535);

export const Env = z.object({
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgres:// URL'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('rostersync'),
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
  SFTP_HOST: z.string().default('127.0.0.1'),
  SFTP_PORT: port.default(2222),
  /** Host name districts are told to connect to (what the SFTP server is reachable as). */
  SFTP_PUBLIC_HOST: z.string().default('127.0.0.1'),
  DATA_DIR: z.string().default('.data'),
  /** 32-byte key (hex or base64) encrypting credentials for districts' own SFTP servers. */
  SECRET_KEY: z.string().min(32, 'SECRET_KEY must be 32 bytes as hex (64 chars) or base64 (44 chars)'),
  /** Parallel reads when downloading from a district's own SFTP server (1 for servers that mangle them). */
  SFTP_DOWNLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** A plain file is read only once unchanged this long: it may still be uploading. */
  FETCH_QUIET_SECONDS: z.coerce.number().min(0).default(5),
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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Env = z.infer<typeof Env>;

/** Rules across settings; kept apart so Env stays a plain object schema that parts can pick from. */
const EnvWithRules = Env.superRefine((env, ctx) => {
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

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Readonly<Env> {
  const parsed = EnvWithRules.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(
      `Invalid configuration:\n${lines.join('\n')}\nSet these environment variables and start again.`,
    );
  }
  return Object.freeze(parsed.data);
}
