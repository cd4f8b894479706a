import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { ZodValidationPipe } from 'nestjs-zod';
import type { ConnectionTestResult } from '../../../lib/files/connection-test';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ConnectionTestService } from './connection-test.service';
import { SyncConfigDto, TestConnectionBody } from './sync-config.dto';
import { SyncConfigService, type SyncConfigView } from './sync-config.service';

@ApiTags('sync config')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id/sync-config')
export class SyncConfigController {
  constructor(
    private readonly service: SyncConfigService,
    private readonly connectionTest: ConnectionTestService,
  ) {}

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

  @ApiOperation({
    summary:
      'Test Connection: try the saved config (no body) or a candidate one step by step, importing nothing (at most 20 s)',
  })
  @Post('test-connection')
  @HttpCode(200)
  async testConnection(
    @Param('id', UuidParamPipe) id: string,
    @Body(new ZodValidationPipe(TestConnectionBody)) body: TestConnectionBody,
  ): Promise<ConnectionTestResult> {
    return await this.connectionTest.test(id, body);
  }
}
