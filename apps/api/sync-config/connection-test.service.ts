import path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import type { Env } from '../../../lib/config/env';
import { decryptSecret } from '../../../lib/crypto/secret-box';
import { OpenUploadsRepository } from '../../../lib/db/repositories/open-uploads.repository';
import {
  type ExternalServerSettings,
  type SyncConfigRecord,
  SyncConfigsRepository,
} from '../../../lib/db/repositories/sync-configs.repository';
import type { ConnectionTestResult, PickSettings } from '../../../lib/files/connection-test';
import { testExternalConnection } from '../../../lib/files/external-connection-test';
import { testHostedConnection } from '../../../lib/files/hosted-connection-test';
import { ENV } from '../api.tokens';
import { DistrictsService } from '../districts/districts.service';
import { type ExternalSecrets, resolveExternalSecrets } from './external-secrets';
import { externalFolder, type SyncConfigBody } from './sync-config.dto';
import { SyncConfigService } from './sync-config.service';

/** What a test needs of a config, saved or candidate, with its secrets still encrypted. */
type TestedConfig = Pick<SyncConfigRecord, 'source' | 'fileRule' | 'fileName' | 'matchingKey'> & {
  external: (Omit<ExternalServerSettings, 'hostKeyFingerprint'> & { hostKeyFingerprint?: string }) | null;
  secrets: ExternalSecrets;
};

/**
 * Test Connection: the saved config, or a candidate one, tried the way a run would go, importing
 * nothing. The API reads the hosted folder itself (DATA_DIR is its too) and connects to a district's
 * own server itself: it needs no host keys of ours, only the fingerprint pinned in the config.
 */
@Injectable()
export class ConnectionTestService {
  constructor(
    private readonly districts: DistrictsService,
    private readonly configs: SyncConfigsRepository,
    private readonly syncConfig: SyncConfigService,
    private readonly openUploads: OpenUploadsRepository,
    @Inject(ENV) private readonly env: Readonly<Env>,
  ) {}

  async test(districtId: string, candidate: SyncConfigBody | undefined): Promise<ConnectionTestResult> {
    const district = await this.districts.require(districtId);
    const config = candidate
      ? fromCandidate(candidate, await this.configs.get(districtId), this.env.SECRET_KEY)
      : fromSaved(await this.syncConfig.require(districtId));
    const pick: PickSettings = {
      fileRule: config.fileRule,
      fileName: config.fileName,
      quietMs: this.env.UPLOAD_QUIET_SECONDS * 1000,
      maxFileBytes: this.env.FETCH_MAX_FILE_BYTES,
    };
    if (config.source === 'hosted' || !config.external) {
      return await testHostedConnection({
        ...pick,
        root: path.resolve(this.env.DATA_DIR, 'sftp', district.slug),
        matchingKey: config.matchingKey,
        unfinished: await this.openUploads.unfinished(districtId),
      });
    }
    const reveal = (blob: string | null) => (blob ? decryptSecret(this.env.SECRET_KEY, blob) : undefined);
    return await testExternalConnection(
      {
        ...pick,
        ...config.external,
        password: reveal(config.secrets.externalPasswordEnc),
        privateKey: reveal(config.secrets.externalKeyEnc),
        passphrase: reveal(config.secrets.externalKeyPassphraseEnc),
        matchingKey: config.matchingKey,
      },
      { allowPrivateAddresses: this.env.EXTERNAL_SFTP_ALLOW_PRIVATE },
    );
  }
}

function fromSaved(saved: SyncConfigRecord): TestedConfig {
  const { externalPasswordEnc, externalKeyEnc, externalKeyPassphraseEnc } = saved;
  return {
    ...saved,
    external: saved.external && {
      ...saved.external,
      hostKeyFingerprint: saved.external.hostKeyFingerprint || undefined,
    },
    secrets: { externalPasswordEnc, externalKeyEnc, externalKeyPassphraseEnc },
  };
}

/** Omitted secrets fall back to the saved ones exactly as a PUT of the same body would keep them. */
function fromCandidate(
  body: SyncConfigBody,
  saved: SyncConfigRecord | undefined,
  secretKey: string,
): TestedConfig {
  const ext = body.external ?? null;
  const { sameServer: _sameServer, ...secrets } = resolveExternalSecrets(secretKey, ext, saved);
  return {
    source: body.source,
    fileRule: body.fileRule,
    fileName: body.fileName ?? null,
    matchingKey: body.matchingKey,
    external: ext && {
      host: ext.host,
      port: ext.port,
      username: ext.username,
      hostKeyFingerprint: ext.hostKeyFingerprint,
      path: externalFolder(ext),
    },
    secrets,
  };
}
