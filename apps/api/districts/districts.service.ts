import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { type District, DistrictsRepository } from '../../../lib/db/repositories/districts.repository';
import { type School, SchoolsRepository } from '../../../lib/db/repositories/schools.repository';
import type { PageQuery } from '../common/paging.dto';

@Injectable()
export class DistrictsService {
  constructor(
    private readonly districts: DistrictsRepository,
    private readonly schools: SchoolsRepository,
  ) {}

  async create(input: { name: string; slug: string; timeZone: string }): Promise<District> {
    const district = await this.districts.create(input);
    if (!district)
      throw new ConflictException(
        `A district with slug "${input.slug}" already exists: slugs are unique (they are SFTP usernames); pick another.`,
      );
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

  async createSchool(districtId: string, name: string): Promise<School> {
    await this.require(districtId);
    const school = await this.schools.create(districtId, name);
    if (!school)
      throw new ConflictException(
        `District ${districtId} already has a school named "${name}"; school names are unique per district.`,
      );
    return school;
  }

  async listSchools(districtId: string): Promise<School[]> {
    await this.require(districtId);
    return await this.schools.listForDistrict(districtId);
  }
}
