import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { PublicKeyView } from '../../../lib/sftp-server/sftp-accounts.repository';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { AddPublicKeyDto } from './sftp-credentials.dto';
import {
  type NewSftpPassword,
  SftpCredentialsService,
  type SftpCredentialsView,
} from './sftp-credentials.service';

@ApiTags('sftp credentials')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id/sftp-credentials')
export class SftpCredentialsController {
  constructor(private readonly service: SftpCredentialsService) {}

  @ApiOperation({ summary: 'Generate a new hosted SFTP password (shown once)' })
  @Post('password')
  @HttpCode(200)
  async regeneratePassword(@Param('id', UuidParamPipe) id: string): Promise<NewSftpPassword> {
    return await this.service.regeneratePassword(id);
  }

  @ApiOperation({ summary: 'Hosted SFTP account, host key fingerprints and public keys' })
  @Get()
  async view(@Param('id', UuidParamPipe) id: string): Promise<SftpCredentialsView> {
    return await this.service.view(id);
  }

  @ApiOperation({ summary: 'Add an OpenSSH public key' })
  @Post('keys')
  async addKey(
    @Param('id', UuidParamPipe) id: string,
    @Body() body: AddPublicKeyDto,
  ): Promise<PublicKeyView> {
    return await this.service.addKey(id, body.publicKey);
  }

  @ApiOperation({ summary: 'Remove a public key' })
  @Delete('keys/:keyId')
  @HttpCode(204)
  async removeKey(
    @Param('id', UuidParamPipe) id: string,
    @Param('keyId', UuidParamPipe) keyId: string,
  ): Promise<void> {
    await this.service.removeKey(id, keyId);
  }
}
