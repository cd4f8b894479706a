import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { ROLES, canonicalRole } from '../../../lib/csv/roster-roles';
import { PageQuery } from '../common/paging.dto';

export const MAX_USER_SEARCH_LENGTH = 100;

export const UsersQuery = PageQuery.extend({
  q: z
    .string('q must be given once')
    .max(MAX_USER_SEARCH_LENGTH, `q must be at most ${MAX_USER_SEARCH_LENGTH} characters`)
    .transform((q) => q.trim() || undefined)
    .optional(),
  status: z.enum(['active', 'archived'], 'status must be "active" or "archived"').optional(),
  // Spelled as the roster may spell it ("school_admin"), stored as the canonical name.
  role: z
    .string('role must be given once')
    .max(50, 'role must be at most 50 characters')
    .transform((role, ctx) => {
      const canonical = canonicalRole(role);
      if (!canonical) ctx.addIssue({ code: 'custom', message: `role must be one of ${ROLES.join(', ')}` });
      return canonical ?? role;
    })
    .optional(),
});
export type UsersQuery = z.infer<typeof UsersQuery>;
export class UsersQueryDto extends createZodDto(UsersQuery) {}

export const ProtectedBody = z.object({ protected: z.boolean('protected must be true or false') }).strict();
export class ProtectedDto extends createZodDto(ProtectedBody) {}
