import { AuditTrail } from '../audit/audit-trail.service';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { type District, DistrictsRepository } from '../../../lib/db/repositories/districts.repository';
import type { PageQuery } from '../common/paging.dto';

@Injectable()
export class DistrictsService {
  constructor(
    private readonly districts: DistrictsRepository,
    private readonly audit: AuditTrail,
  ) {}

  async create(input: { name: string; slug: string; timeZone: string }): Promise<District> {
    const district = await this.districts.create(input);
    if (!district)
      throw new ConflictException(
        `A district with slug "${input.slug}" already exists: slugs are unique (they are SFTP usernames); pick another.`,
      );
    await this.audit.record('district.created', district.id, { after: district });
    return district;
  }

  async list(page: PageQuery): Promise<{ total: number; districts: District[] }> {
    return await this.districts.list(page);
  }

  /** The district or a 404: every district-scoped route starts here. */
  async require(id: string): Promise<District> {
    const district = await this.districts.get(id);
    if (!district)
      throw new NotFoundException(`District ${id} not found: list districts with GET /districts.`);
    return district;
  }
}
