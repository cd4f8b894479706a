import { createZodDto } from 'nestjs-zod';
import { AuditKind } from '../../../lib/audit/audit-kinds';
import { PageQuery } from '../common/paging.dto';

export const AuditQuery = PageQuery.extend({
  kind: AuditKind.optional(),
});
export class AuditQueryDto extends createZodDto(AuditQuery) {}
