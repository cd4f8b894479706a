import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { District } from '../../../lib/db/repositories/districts.repository';
import type { School } from '../../../lib/db/repositories/schools.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { PageQueryDto } from '../common/paging.dto';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { CreateDistrictDto, CreateSchoolDto } from './districts.dto';
import { DistrictsService } from './districts.service';

@ApiTags('districts')
@ApiBearerAuth()
@Controller('districts')
export class DistrictsController {
  constructor(private readonly service: DistrictsService) {}

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

  @ApiOperation({ summary: 'Add a school (409 if the district already has one of that name)' })
  @DistrictKeys('own-district')
  @Post(':id/schools')
  async createSchool(@Param('id', UuidParamPipe) id: string, @Body() body: CreateSchoolDto): Promise<School> {
    return await this.service.createSchool(id, body.name);
  }

  @ApiOperation({ summary: "List the district's schools" })
  @DistrictKeys('own-district')
  @Get(':id/schools')
  async listSchools(@Param('id', UuidParamPipe) id: string): Promise<School[]> {
    return await this.service.listSchools(id);
  }
}
