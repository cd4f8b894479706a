import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { SyncConfigDto } from './sync-config.dto';
import { SyncConfigService, type SyncConfigView } from './sync-config.service';

@ApiTags('sync config')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id/sync-config')
export class SyncConfigController {
  constructor(private readonly service: SyncConfigService) {}

  @ApiOperation({ summary: 'Replace the sync config and reschedule the district workflow' })
  @Put()
  async put(@Param('id', UuidParamPipe) id: string, @Body() body: SyncConfigDto): Promise<SyncConfigView> {
    return await this.service.put(id, body);
  }

  @ApiOperation({ summary: 'Get the sync config (secrets shown only as hasPassword / hasPrivateKey)' })
  @Get()
  async get(@Param('id', UuidParamPipe) id: string): Promise<SyncConfigView> {
    return await this.service.get(id);
  }
}
