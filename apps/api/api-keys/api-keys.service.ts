import { AuditTrail } from '../audit/audit-trail.service';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { type ApiKeyView, ApiKeysRepository } from '../../../lib/db/repositories/api-keys.repository';
import type { PageQuery } from '../common/paging.dto';
import { DistrictsService } from '../districts/districts.service';
import { generateApiKey } from './api-key-secret';

export const MAX_ACTIVE_KEYS_PER_DISTRICT = 20;

export interface IssuedApiKey extends ApiKeyView {
  /** Shown once: only its hash is stored. */
  key: string;
}

/** District API keys, issued and revoked by the operator (see the guard for what a key may call). */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly districts: DistrictsService,
    private readonly keys: ApiKeysRepository,
    private readonly audit: AuditTrail,
  ) {}

  async issue(districtId: string, label: string | undefined): Promise<IssuedApiKey> {
    await this.districts.require(districtId);
    const { key, prefix, keyHash } = generateApiKey();
    const view = await this.keys.insert({
      districtId,
      label: label ?? null,
      prefix,
      keyHash,
      maxActive: MAX_ACTIVE_KEYS_PER_DISTRICT,
    });
    if (!view)
      throw new ConflictException(
        `District ${districtId} already has ${MAX_ACTIVE_KEYS_PER_DISTRICT} active API keys: revoke unused ones (DELETE /districts/${districtId}/api-keys/<keyId>) first.`,
      );
    await this.audit.record('api_key.issued', districtId, { after: view });
    return { ...view, key };
  }

  async list(districtId: string, page: PageQuery): Promise<{ total: number; apiKeys: ApiKeyView[] }> {
    await this.districts.require(districtId);
    return await this.keys.listForDistrict(districtId, page);
  }

  async revoke(districtId: string, keyId: string): Promise<void> {
    await this.districts.require(districtId);
    if (!(await this.keys.revoke(districtId, keyId)))
      throw new NotFoundException(
        `API key ${keyId} not found for district ${districtId}: list keys with GET /districts/${districtId}/api-keys.`,
      );
    await this.audit.record('api_key.revoked', districtId, { before: { keyId } });
  }
}
