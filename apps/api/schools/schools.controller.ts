import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { School } from '../../../lib/db/repositories/schools.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { BulkSchoolsDto, SchoolDto } from './schools.dto';
import { type BulkSchoolsOutcome, SchoolsService } from './schools.service';

@ApiTags('schools')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id/schools')
export class SchoolsController {
  constructor(private readonly service: SchoolsService) {}

  @ApiOperation({ summary: 'Add a school (409 if the district already has one of that name)' })
  @Post()
  async create(@Param('id', UuidParamPipe) id: string, @Body() body: SchoolDto): Promise<School> {
    return await this.service.create(id, body.name);
  }

  @ApiOperation({ summary: 'Add up to 1000 schools; each name is reported as created, exists or invalid' })
  @Post('bulk')
  @HttpCode(200)
  async createMany(
    @Param('id', UuidParamPipe) id: string,
    @Body() body: BulkSchoolsDto,
  ): Promise<BulkSchoolsOutcome> {
    return await this.service.createMany(id, body.names);
  }

  @ApiOperation({ summary: "List the district's schools" })
  @Get()
  async list(@Param('id', UuidParamPipe) id: string): Promise<School[]> {
    return await this.service.list(id);
  }

  @ApiOperation({ summary: 'Rename a school (409 if the district already has one of that name)' })
  @Patch(':schoolId')
  async rename(
    @Param('id', UuidParamPipe) id: string,
    @Param('schoolId', UuidParamPipe) schoolId: string,
    @Body() body: SchoolDto,
  ): Promise<School> {
    return await this.service.rename(id, schoolId, body.name);
  }

  @ApiOperation({ summary: 'Delete a school (409 while users belong to it, saying how many)' })
  @Delete(':schoolId')
  @HttpCode(204)
  async delete(
    @Param('id', UuidParamPipe) id: string,
    @Param('schoolId', UuidParamPipe) schoolId: string,
  ): Promise<void> {
    await this.service.delete(id, schoolId);
  }
}
