import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { ApiKeyView } from '../../../lib/db/repositories/api-keys.repository';
import { PageQueryDto } from '../common/paging.dto';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { IssueApiKeyDto } from './api-keys.dto';
import { ApiKeysService, type IssuedApiKey } from './api-keys.service';

/**
 * Operator token only (no @DistrictKeys): a leaked district key can neither mint itself a successor
 * nor revoke the district's other keys, so revoking it ends the leak.
 */
@ApiTags('api keys')
@ApiBearerAuth()
@Controller('districts/:id/api-keys')
export class ApiKeysController {
  constructor(private readonly service: ApiKeysService) {}

  @ApiOperation({ summary: 'Issue a district API key (shown once; operator token only)' })
  @Post()
  async issue(@Param('id', UuidParamPipe) id: string, @Body() body: IssueApiKeyDto): Promise<IssuedApiKey> {
    return await this.service.issue(id, body.label);
  }

  @ApiOperation({
    summary: "List the district's API keys, newest first (never the keys; operator token only)",
  })
  @Get()
  async list(
    @Param('id', UuidParamPipe) id: string,
    @Query() page: PageQueryDto,
  ): Promise<{ total: number; apiKeys: ApiKeyView[] }> {
    return await this.service.list(id, page);
  }

  @ApiOperation({ summary: 'Revoke a district API key at once (operator token only)' })
  @Delete(':keyId')
  @HttpCode(204)
  async revoke(
    @Param('id', UuidParamPipe) id: string,
    @Param('keyId', UuidParamPipe) keyId: string,
  ): Promise<void> {
    await this.service.revoke(id, keyId);
  }
}
