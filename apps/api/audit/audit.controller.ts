import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { type AuditEvent, AuditEventsRepository } from '../../../lib/audit/audit-events.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { DistrictIdParam } from '../common/path-params';
import { AuditQueryDto } from './audit.dto';

type AuditPage = { total: number; limit: number; offset: number; events: AuditEvent[] };

@ApiTags('audit')
@ApiBearerAuth()
@Controller()
export class AuditController {
  constructor(private readonly events: AuditEventsRepository) {}

  @ApiOperation({ summary: "The district's audit trail, newest first (filter by kind)" })
  @DistrictKeys('own-district')
  @Get('districts/:id/audit')
  async district(@DistrictIdParam() id: string, @Query() query: AuditQueryDto): Promise<AuditPage> {
    return await this.page(id, query);
  }

  @ApiOperation({ summary: "Every district's audit trail, newest first (operator token only)" })
  @Get('audit')
  async all(@Query() query: AuditQueryDto): Promise<AuditPage> {
    return await this.page(null, query);
  }

  private async page(districtId: string | null, query: AuditQueryDto): Promise<AuditPage> {
    const { total, events } = await this.events.page({ districtId, ...query });
    return { total, limit: query.limit, offset: query.offset, events };
  }
}
