import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Env } from '../../../lib/config/env';
import {
  type PublicKeyView,
  type SftpAccountView,
  SftpAccountsRepository,
} from '../../../lib/sftp-server/sftp-accounts.repository';
import {
  type HostKeyFingerprint,
  SftpHostKeysRepository,
} from '../../../lib/sftp-server/sftp-host-keys.repository';
import { AuditTrail } from '../audit/audit-trail.service';
import { ENV } from '../api.tokens';
import { DistrictsService } from '../districts/districts.service';

export interface NewSftpPassword {
  host: string;
  port: number;
  username: string;
  /** Shown once: only its hash is stored. */
  password: string;
  hostKeyFingerprints: HostKeyFingerprint[];
}

export interface SftpCredentialsView {
  host: string;
  port: number;
  username: string;
  account: SftpAccountView | null;
  hostKeyFingerprints: HostKeyFingerprint[];
  publicKeys: PublicKeyView[];
}

/** The district's hosted SFTP login: username is its slug; passwords are generated, keys are pasted in. */
@Injectable()
export class SftpCredentialsService {
  constructor(
    private readonly districts: DistrictsService,
    private readonly accounts: SftpAccountsRepository,
    private readonly hostKeys: SftpHostKeysRepository,
    @Inject(ENV) private readonly env: Readonly<Env>,
    private readonly audit: AuditTrail,
  ) {}

  /** Published by the SFTP server when it starts: the API never reads its key files. */
  private async fingerprints(): Promise<HostKeyFingerprint[]> {
    return await this.hostKeys.list();
  }

  async regeneratePassword(districtId: string): Promise<NewSftpPassword> {
    const district = await this.districts.require(districtId);
    const password = await this.accounts.regeneratePassword(districtId, district.slug);
    await this.audit.record('sftp.password_regenerated', districtId, { after: { username: district.slug } });
    return {
      host: this.env.SFTP_PUBLIC_HOST,
      port: this.env.SFTP_PORT,
      username: district.slug,
      password,
      hostKeyFingerprints: await this.fingerprints(),
    };
  }

  async view(districtId: string): Promise<SftpCredentialsView> {
    const district = await this.districts.require(districtId);
    const [account, publicKeys, hostKeyFingerprints] = await Promise.all([
      this.accounts.getAccount(districtId),
      this.accounts.listPublicKeys(districtId),
      this.fingerprints(),
    ]);
    return {
      host: this.env.SFTP_PUBLIC_HOST,
      port: this.env.SFTP_PORT,
      username: account?.username ?? district.slug,
      // Listed field by field: whatever else the repository learns to return stays out of responses.
      account: account
        ? {
            username: account.username,
            hasPassword: account.hasPassword,
            passwordChangedAt: account.passwordChangedAt,
            keyCount: account.keyCount,
          }
        : null,
      hostKeyFingerprints,
      publicKeys,
    };
  }

  async addKey(districtId: string, publicKey: string): Promise<PublicKeyView> {
    await this.districts.require(districtId);
    try {
      const added = await this.accounts.addPublicKey(districtId, publicKey);
      await this.audit.record('sftp.key_added', districtId, { after: added });
      return added;
    } catch (err) {
      // Branch on the name, not the class: the message is already written for the admin.
      if ((err as Error).name === 'InvalidPublicKeyError')
        throw new BadRequestException((err as Error).message);
      throw err;
    }
  }

  async removeKey(districtId: string, keyId: string): Promise<void> {
    await this.districts.require(districtId);
    if (!(await this.accounts.removePublicKey(districtId, keyId)))
      throw new NotFoundException(
        `Key ${keyId} not found for district ${districtId}: list keys with GET /districts/${districtId}/sftp-credentials.`,
      );
    await this.audit.record('sftp.key_removed', districtId, { before: { keyId } });
  }
}
