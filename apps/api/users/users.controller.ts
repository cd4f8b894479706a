import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { type UserView, UsersRepository } from '../../../lib/db/repositories/users.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { PageQuery } from '../common/paging.dto';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { DistrictsService } from '../districts/districts.service';

export const UsersQuery = PageQuery.extend({
  status: z.enum(['active', 'archived'], 'status must be "active" or "archived"').optional(),
});
export class UsersQueryDto extends createZodDto(UsersQuery) {}

/** Read-only: lets an admin see what a sync created, updated or archived. */
@ApiTags('users')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id/users')
export class UsersController {
  constructor(
    private readonly districts: DistrictsService,
    private readonly users: UsersRepository,
  ) {}

  @ApiOperation({ summary: "List the district's users (read-only)" })
  @Get()
  async list(
    @Param('id', UuidParamPipe) id: string,
    @Query() query: UsersQueryDto,
  ): Promise<{ total: number; users: UserView[] }> {
    await this.districts.require(id);
    return await this.users.listForDistrict(id, query);
  }
}
