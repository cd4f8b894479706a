import { AuditTrail } from '../audit/audit-trail.service';
import { Injectable, NotFoundException } from '@nestjs/common';
import {
  type UserDetail,
  type UserView,
  UsersRepository,
} from '../../../lib/db/repositories/users.repository';
import { DistrictsService } from '../districts/districts.service';
import type { UsersQuery } from './users.dto';

@Injectable()
export class UsersService {
  constructor(
    private readonly districts: DistrictsService,
    private readonly users: UsersRepository,
    private readonly audit: AuditTrail,
  ) {}

  async list(districtId: string, query: UsersQuery): Promise<{ total: number; users: UserView[] }> {
    await this.districts.require(districtId);
    return await this.users.listForDistrict(districtId, query);
  }

  async detail(districtId: string, userId: string): Promise<UserDetail> {
    await this.districts.require(districtId);
    return await this.found(districtId, userId);
  }

  /** A protected user is never archived by a sync, even when no file row names it. */
  async setProtected(districtId: string, userId: string, value: boolean): Promise<UserDetail> {
    await this.districts.require(districtId);
    const before = await this.found(districtId, userId);
    await this.users.setProtected(districtId, userId, value);
    const after = await this.found(districtId, userId);
    if (before.protected !== after.protected)
      await this.audit.record('user.protection_changed', districtId, {
        before: { userId, protected: before.protected },
        after: { userId, protected: after.protected },
      });
    return after;
  }

  private async found(districtId: string, userId: string): Promise<UserDetail> {
    const user = await this.users.get(districtId, userId);
    if (!user)
      throw new NotFoundException(
        `User ${userId} not found in district ${districtId}: search the district's users with GET /districts/${districtId}/users?q=.`,
      );
    return user;
  }
}
