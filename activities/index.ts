import path from 'node:path';
import type { Pool } from 'pg';
import type { Env } from '../lib/config/env';
import { createSmtpMailer, type Mailer } from '../lib/mail/mailer';
import type { ArtifactStore } from '../lib/storage/artifact-store';
import { DistrictArtifactsRepository } from '../lib/storage/district-artifacts.repository';
import { sourceLimits } from '../lib/files/run-file-fetcher';
import { createFetchFileActivities } from './fetch-file.activities';
import { createMailActivities } from './mail.activities';
import { createMailSweepActivities } from './mail-sweep.activities';
import { createRunRecoveryActivities } from './run-recovery.activities';
import { createSyncEngineActivities } from './sync-engine.activities';
import type { MailSweepActivities, SyncActivities } from './types';

export interface ActivityDeps {
  pool: Pool;
  artifacts: ArtifactStore;
  env: Env;
  /** Defaults to SMTP delivery through env.SMTP_URL. */
  mailer?: Mailer;
  /** Overrides UPLOAD_QUIET_SECONDS (tests that upload and sync at once). */
  quietMs?: number;
}

/** Builds every activity a sync run calls from its dependencies; nothing here starts work by itself. */
export function createActivities(deps: ActivityDeps): SyncActivities & MailSweepActivities {
  const apiBaseUrl = deps.env.PUBLIC_API_URL ?? `http://${deps.env.API_HOST}:${deps.env.API_PORT}`;
  const mailer = deps.mailer ?? createSmtpMailer(deps.env.SMTP_URL, deps.env.MAIL_FROM);
  return {
    ...createSyncEngineActivities({ pool: deps.pool, artifacts: deps.artifacts }),
    ...createFetchFileActivities({
      pool: deps.pool,
      // What a fetch keeps counts against its district's bound; reading kept files is never bounded.
      artifacts: deps.artifacts.withBound({
        repository: new DistrictArtifactsRepository(deps.pool),
        maxBytes: deps.env.DISTRICT_ARTIFACT_MAX_BYTES,
      }),
      hostedRoot: path.resolve(deps.env.DATA_DIR, 'sftp'),
      secretKey: deps.env.SECRET_KEY,
      quietMs: deps.quietMs ?? deps.env.UPLOAD_QUIET_SECONDS * 1000,
      downloadConcurrency: deps.env.SFTP_DOWNLOAD_CONCURRENCY,
      maxFileBytes: deps.env.FETCH_MAX_FILE_BYTES,
      allowPrivateAddresses: deps.env.EXTERNAL_SFTP_ALLOW_PRIVATE,
      sourceLimits: sourceLimits(deps.env),
    }),
    ...createRunRecoveryActivities({ pool: deps.pool }),
    ...createMailActivities({ pool: deps.pool, mailer, apiBaseUrl }),
    ...createMailSweepActivities({ pool: deps.pool, mailer }),
  };
}
