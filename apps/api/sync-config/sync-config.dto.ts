import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { DistrictSchedule } from '../../../lib/contracts/schedule';
import { CoachingGroup, FileRule, FileSource, MatchingKey } from '../../../lib/contracts/sync-config';

/** A percentage limit; -1 turns that limit off. */
const pct = (name: string) =>
  z
    .number()
    .refine((v) => v === -1 || (v >= 0 && v <= 100), `${name} must be -1 (disabled) or between 0 and 100`)
    .transform((v) => Math.round(v * 100) / 100);

export const ExternalServerBody = z
  .object({
    host: z
      .string()
      .trim()
      .min(1, 'external.host must be the SFTP server name or IP address')
      .max(253)
      .regex(
        /^[A-Za-z0-9.:[\]-]+$/,
        'external.host must be a host name or IP address, without "sftp://" or a path',
      ),
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string().min(1, 'external.username must not be empty').max(128),
    /** Write-only: stored encrypted; omit to keep the stored one, null to remove it. */
    password: z.string().min(1).max(1024).nullish(),
    /** Write-only OpenSSH/PEM private key: stored encrypted; omit to keep the stored one, null to remove it. */
    privateKey: z
      .string()
      .max(16_384)
      .regex(
        /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
        'external.privateKey must be a PEM/OpenSSH private key block',
      )
      .nullish(),
    /** Write-only passphrase of an encrypted privateKey: stored encrypted; omit to keep the stored one, null to remove it. */
    privateKeyPassphrase: z.string().min(1).max(1024).nullish(),
    /**
     * Required to save; Test Connection without it reports the server's fingerprint so the admin can
     * check it with the district and pin it.
     */
    hostKeyFingerprint: z
      .string()
      .regex(
        /^SHA256:[A-Za-z0-9+/]{43}=?$/,
        'external.hostKeyFingerprint must be the server key\'s SHA256 fingerprint as `ssh-keygen -lf` prints it, e.g. "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"',
      )
      // Stored as OpenSSH prints it, without base64 padding, which is what the worker compares with.
      .transform((fingerprint) => fingerprint.replace(/=+$/, ''))
      .optional(),
    /** Omitted or null (or useHomeFolder): the login's home folder. */
    path: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[^\0]+$/, 'external.path must not contain NUL characters')
      .nullish(),
    useHomeFolder: z.boolean().optional(),
  })
  .strict()
  .refine((ext) => !(ext.useHomeFolder && ext.path), {
    path: ['path'],
    message: "external.path must be left out when useHomeFolder is true (the login's home folder is read)",
  });
export type ExternalServerBody = z.output<typeof ExternalServerBody>;

/** The folder a config reads: null is the login's home folder. */
export const externalFolder = (ext: ExternalServerBody): string | null =>
  ext.useHomeFolder ? null : (ext.path ?? null);

export const SyncConfigBody = z
  .object({
    enabled: z.boolean(),
    frequency: DistrictSchedule.shape.frequency,
    startDate: DistrictSchedule.shape.startDate,
    timeOfDay: DistrictSchedule.shape.timeOfDay,
    source: FileSource.default('hosted'),
    fileRule: FileRule.default('latest'),
    fileName: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^/\\\0]+$/, 'fileName must be a bare file name without folders, e.g. "roster.csv"')
      .nullish(),
    processOnArrival: z.boolean().default(false),
    matchingKey: MatchingKey.default('email'),
    coachingGroups: z
      .array(CoachingGroup)
      .max(2)
      .default([])
      .transform((groups) => [...new Set(groups)]),
    errorThresholdPct: pct('errorThresholdPct').default(-1),
    maxArchivePct: pct('maxArchivePct').default(10),
    maxArchiveCount: z
      .number()
      .int()
      .refine(
        (v) => v === -1 || (v >= 0 && v <= 10_000_000),
        'maxArchiveCount must be -1 (disabled) or between 0 and 10000000',
      )
      .default(500),
    maxRowDropPct: pct('maxRowDropPct').default(20),
    welcomeEmails: z.boolean().default(false),
    notifyEmails: z
      .array(z.email('notifyEmails must contain email addresses such as "it@district.org"').max(254))
      .max(20, 'notifyEmails may list at most 20 addresses')
      .default([]),
    notifyOnSuccess: z.boolean().default(false),
    /** Hours without a new file (a different SHA-256) after which a scheduled run alerts the admins once. */
    staleFeedHours: z
      .number()
      .int('staleFeedHours must be a whole number of hours')
      .min(1, 'staleFeedHours must be at least 1 (hours), or null to turn the alert off')
      .max(24 * 90, 'staleFeedHours may be at most 2160 (90 days)')
      .nullable()
      .default(null),
    external: ExternalServerBody.nullish(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.fileRule === 'specific_name' && !config.fileName)
      ctx.addIssue({
        code: 'custom',
        path: ['fileName'],
        message:
          'fileName is required when fileRule is "specific_name" (the exact name the district uploads)',
      });
    if (config.source === 'external' && !config.external)
      ctx.addIssue({
        code: 'custom',
        path: ['external'],
        message:
          'external is required when source is "external": give host, port, username, password or privateKey, hostKeyFingerprint and path (or useHomeFolder)',
      });
  });
export type SyncConfigBody = z.output<typeof SyncConfigBody>;
export class SyncConfigDto extends createZodDto(SyncConfigBody) {}

const isEmptyBody = (body: unknown): boolean =>
  body === undefined ||
  body === null ||
  (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);

/** Test Connection: no body tests the saved config; a body is a candidate config, validated as PUT validates it. */
export const TestConnectionBody = z.preprocess(
  (body) => (isEmptyBody(body) ? undefined : body),
  SyncConfigBody.optional(),
);
export type TestConnectionBody = z.output<typeof TestConnectionBody>;
