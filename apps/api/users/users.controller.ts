import { Body, Controller, Get, Param, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { UserDetail, UserView } from '../../../lib/db/repositories/users.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ProtectedDto, UsersQueryDto } from './users.dto';
import { UsersService } from './users.service';

/** What a sync created, updated or archived; the one thing an admin changes here is protection. */
@ApiTags('users')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id/users')
export class UsersController {
  constructor(private readonly service: UsersService) {}

  @ApiOperation({
    summary:
      "List or search the district's users: q is a case-insensitive prefix of a name, the email or any id",
  })
  @Get()
  async list(
    @Param('id', UuidParamPipe) id: string,
    @Query() query: UsersQueryDto,
  ): Promise<{ total: number; users: UserView[] }> {
    return await this.service.list(id, query);
  }

  @ApiOperation({ summary: 'One user: school, role, custom fields, protection and the runs behind it' })
  @Get(':userId')
  async detail(
    @Param('id', UuidParamPipe) id: string,
    @Param('userId', UuidParamPipe) userId: string,
  ): Promise<UserDetail> {
    return await this.service.detail(id, userId);
  }

  @ApiOperation({ summary: 'Protect a user from being archived by syncs (or lift the protection)' })
  @Put(':userId/protected')
  async setProtected(
    @Param('id', UuidParamPipe) id: string,
    @Param('userId', UuidParamPipe) userId: string,
    @Body() body: ProtectedDto,
  ): Promise<UserDetail> {
    return await this.service.setProtected(id, userId, body.protected);
  }
}
