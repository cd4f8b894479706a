import type { ServerResponse } from 'node:http';
import { Controller, Get, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags, ApiOperation } from '@nestjs/swagger';
import { type ErrorCodeEntry, ERROR_CODES, TEMPLATE_HEADERS } from '../../../lib/csv/error-codes';
import { DistrictKeys } from '../common/district-key-access.decorator';

/** What a district needs to prepare its file: the error dictionary and a blank template. */
@ApiTags('reference')
@ApiBearerAuth()
@DistrictKeys('reference')
@Controller()
export class ReferenceController {
  @ApiOperation({ summary: 'Every error/warning code a run can report, with its fix' })
  @Get('error-codes')
  errorCodes(): ReadonlyArray<ErrorCodeEntry> {
    return ERROR_CODES;
  }

  @ApiOperation({ summary: 'A blank CSV template with the recognised headers' })
  @Get('templates/users.csv')
  @ApiProduces('text/csv')
  template(@Res() res: ServerResponse): void {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', 'attachment; filename="users.csv"');
    res.end(`${TEMPLATE_HEADERS.map(csvCell).join(',')}\r\n`);
  }
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
