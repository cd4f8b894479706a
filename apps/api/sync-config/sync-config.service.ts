import net from 'node:net';
import { OneRosterOptions } from '../../../lib/contracts/roster-format';
import { BadRequestException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import type { Env } from '../../../lib/config/env';
import type { DistrictSchedule } from '../../../lib/contracts/schedule';
import { refusal } from '../../../lib/files/external-host-guard';
import type { District } from '../../../lib/db/repositories/districts.repository';
import {
  type ExternalServerSettings,
  type SyncConfigRecord,
  SyncConfigsRepository,
} from '../../../lib/db/repositories/sync-configs.repository';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { ENV } from '../api.tokens';
import { AuditTrail } from '../audit/audit-trail.service';
import { schedulerUnavailable } from '../common/scheduler-unavailable';
import { DistrictsService } from '../districts/districts.service';
import { resolveExternalSecrets } from './external-secrets';
import { externalFolder, type SyncConfigBody } from './sync-config.dto';

/** A sync config as the API shows it: secrets reduced to "is one stored". */
export type SyncConfigView = Omit<
  SyncConfigRecord,
  'externalPasswordEnc' | 'externalKeyEnc' | 'externalKeyPassphraseEnc' | 'external'
> & {
  external:
    | (ExternalServerSettings & {
        hasPassword: boolean;
        hasPrivateKey: boolean;
        /** Only with a stored private key, the one thing it qualifies. */
        hasPrivateKeyPassphrase?: boolean;
      })
    | null;
};

export function toConfigView(record: SyncConfigRecord): SyncConfigView {
  const { externalPasswordEnc, externalKeyEnc, externalKeyPassphraseEnc, external, ...rest } = record;
  return {
    ...rest,
    external: external && {
      ...external,
      hasPassword: externalPasswordEnc !== null,
      hasPrivateKey: externalKeyEnc !== null,
      ...(externalKeyEnc !== null && { hasPrivateKeyPassphrase: externalKeyPassphraseEnc !== null }),
    },
  };
}

/** What the district workflow needs to know to keep time. */
export function scheduleFor(district: District, config: SyncConfigRecord): DistrictSchedule {
  return {
    timeZone: district.timeZone,
    enabled: config.enabled,
    frequency: config.frequency,
    startDate: config.startDate,
    timeOfDay: config.timeOfDay,
    processOnArrival: config.processOnArrival,
  };
}

@Injectable()
export class SyncConfigService {
  private readonly logger = new Logger(SyncConfigService.name);

  constructor(
    private readonly districts: DistrictsService,
    private readonly configs: SyncConfigsRepository,
    private readonly districtSync: DistrictSyncClient,
    @Inject(ENV) private readonly env: Readonly<Env>,
    private readonly audit: AuditTrail,
  ) {}

  async get(districtId: string): Promise<SyncConfigView> {
    await this.districts.require(districtId);
    return toConfigView(await this.require(districtId));
  }

  /** The stored config (with encrypted fields, for internal use) or a 404 that says how to create one. */
  async require(districtId: string): Promise<SyncConfigRecord> {
    const config = await this.configs.get(districtId);
    if (!config)
      throw new NotFoundException(
        `District ${districtId} has no sync config yet: create one with PUT /districts/${districtId}/sync-config.`,
      );
    return config;
  }

  async find(districtId: string): Promise<SyncConfigRecord | undefined> {
    return await this.configs.get(districtId);
  }

  async put(districtId: string, body: SyncConfigBody): Promise<SyncConfigView> {
    const district = await this.districts.require(districtId);
    const existing = await this.configs.get(districtId);
    const ext = body.external ?? null;
    if (ext) this.refuseForbiddenAddress(ext.host);
    const hostKeyFingerprint = ext?.hostKeyFingerprint;
    if (ext && !hostKeyFingerprint)
      throw new BadRequestException(
        `external.hostKeyFingerprint is required to save: POST /districts/${districtId}/sync-config/test-connection with this config shows the server's fingerprint; check it with the district and add it.`,
      );
    const { sameServer, ...secrets } = resolveExternalSecrets(this.env.SECRET_KEY, ext, existing);
    const { externalPasswordEnc, externalKeyEnc } = secrets;
    if (body.source === 'external' && !externalPasswordEnc && !externalKeyEnc)
      throw new BadRequestException(
        existing?.external && ext && !sameServer && (existing.externalPasswordEnc || existing.externalKeyEnc)
          ? 'external.password or external.privateKey is required again: the host, port, username or host key changed, and a stored secret is only sent to the server it was given for.'
          : 'external.password or external.privateKey is required when source is "external": the district server needs a way to log in.',
      );
    const saved = await this.configs.upsert(districtId, {
      enabled: body.enabled,
      frequency: body.frequency,
      startDate: body.startDate,
      timeOfDay: body.timeOfDay,
      source: body.source,
      fileRule: body.fileRule,
      fileName: body.fileName ?? null,
      processOnArrival: body.processOnArrival,
      matchingKey: body.matchingKey,
      coachingGroups: body.coachingGroups,
      errorThresholdPct: body.errorThresholdPct,
      maxArchivePct: body.maxArchivePct,
      maxArchiveCount: body.maxArchiveCount,
      maxRowDropPct: body.maxRowDropPct,
      welcomeEmails: body.welcomeEmails,
      notifyEmails: body.notifyEmails,
      notifyOnSuccess: body.notifyOnSuccess,
      staleFeedHours: body.staleFeedHours,
      // Kept as saved until the config's API offers formats.
      format: existing?.format ?? 'template',
      columnMapping: existing?.columnMapping ?? null,
      oneRoster: existing?.oneRoster ?? OneRosterOptions.parse({}),
      external: ext && {
        host: ext.host,
        port: ext.port,
        username: ext.username,
        hostKeyFingerprint: hostKeyFingerprint ?? '',
        path: externalFolder(ext),
      },
      ...secrets,
    });
    // Recorded before the schedule is told: the save stands even when Temporal does not answer.
    await this.audit.record('sync_config.saved', districtId, {
      before: existing && toConfigView(existing),
      after: toConfigView(saved),
    });
    try {
      await this.districtSync.configChanged(districtId, scheduleFor(district, saved));
    } catch (err) {
      throw schedulerUnavailable(
        this.logger,
        'error',
        `configChanged for district ${districtId} failed`,
        err,
        'The config was saved but the scheduler (Temporal) could not be reached, so the schedule is not updated yet: save the config again once Temporal is up.',
      );
    }
    return toConfigView(saved);
  }

  /**
   * An external host written as an IP address the worker would refuse is refused at once, with the
   * reason, instead of failing the first run. (Names are resolved by the worker when it connects.)
   */
  refuseForbiddenAddress(host: string): void {
    const address = host.replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(address) === 0) return;
    const refused = refusal(address, this.env.EXTERNAL_SFTP_ALLOW_PRIVATE);
    if (!refused) return;
    throw new BadRequestException(
      `external.host ${address} is a ${refused.label} address, which the worker never connects to${
        refused.privateRange ? ' unless the server runs with EXTERNAL_SFTP_ALLOW_PRIVATE=true' : ''
      }: give the district server's public address or name.`,
    );
  }
}
