import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { District } from '../../../lib/db/repositories/districts.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { PageQueryDto } from '../common/paging.dto';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { DistrictSettingsService } from './district-settings.service';
import { CreateDistrictDto, UpdateDistrictDto } from './districts.dto';
import { DistrictsService } from './districts.service';

@ApiTags('districts')
@ApiBearerAuth()
@Controller('districts')
export class DistrictsController {
  constructor(
    private readonly service: DistrictsService,
    private readonly settings: DistrictSettingsService,
  ) {}

  @ApiOperation({ summary: 'Create a district (slug = hosted SFTP username; 409 if taken)' })
  @Post()
  async create(@Body() body: CreateDistrictDto): Promise<District> {
    return await this.service.create(body);
  }

  @ApiOperation({ summary: 'List districts' })
  @Get()
  async list(@Query() page: PageQueryDto): Promise<{ total: number; districts: District[] }> {
    return await this.service.list(page);
  }

  @ApiOperation({ summary: 'Get a district' })
  @DistrictKeys('own-district')
  @Get(':id')
  async get(@Param('id', UuidParamPipe) id: string): Promise<District> {
    return await this.service.require(id);
  }

  @ApiOperation({ summary: "Change the district's name or time zone (its schedule follows the zone)" })
  @DistrictKeys('own-district')
  @Patch(':id')
  async update(@Param('id', UuidParamPipe) id: string, @Body() body: UpdateDistrictDto): Promise<District> {
    return await this.settings.update(id, body);
  }
}
