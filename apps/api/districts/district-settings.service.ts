import { AuditTrail } from '../audit/audit-trail.service';
import { Injectable, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { type District, DistrictsRepository } from '../../../lib/db/repositories/districts.repository';
import { SyncConfigsRepository } from '../../../lib/db/repositories/sync-configs.repository';
import { DistrictSyncClient } from '../../../lib/temporal/district-sync.client';
import { scheduleFor } from '../sync-config/sync-config.service';
import type { UpdateDistrictBody } from './districts.dto';

/** Changes to a district itself; a new time zone moves its schedule, as a config save does. */
@Injectable()
export class DistrictSettingsService {
  private readonly logger = new Logger(DistrictSettingsService.name);

  constructor(
    private readonly districts: DistrictsRepository,
    private readonly configs: SyncConfigsRepository,
    private readonly districtSync: DistrictSyncClient,
    private readonly audit: AuditTrail,
  ) {}

  async update(districtId: string, changes: UpdateDistrictBody): Promise<District> {
    const before = await this.districts.get(districtId);
    const district = before && (await this.districts.update(districtId, changes));
    if (!district)
      throw new NotFoundException(`District ${districtId} not found: list districts with GET /districts.`);
    await this.audit.record('district.updated', districtId, { before, after: district });
    // Sent whenever a time zone is given, changed or not, so that repeating the call after a 503 works.
    if (changes.timeZone !== undefined) await this.reschedule(district);
    return district;
  }

  /** A district without a sync config has no schedule yet: its first config save starts one. */
  private async reschedule(district: District): Promise<void> {
    const config = await this.configs.get(district.id);
    if (!config) return;
    try {
      await this.districtSync.configChanged(district.id, scheduleFor(district, config));
    } catch (err) {
      this.logger.error(`configChanged for district ${district.id} failed: ${(err as Error).message}`);
      throw new ServiceUnavailableException(
        'The time zone was saved but the scheduler (Temporal) could not be reached, so the schedule still runs in the old zone: send the same PATCH again once Temporal is up.',
      );
    }
  }
}
