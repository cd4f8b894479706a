import { z } from 'zod';

/** What the audit trail records, one kind per change an admin or support makes. */
export const AuditKind = z.enum([
  'district.created',
  'district.updated',
  'sync_config.saved',
  'sftp.password_regenerated',
  'sftp.key_added',
  'sftp.key_removed',
  'api_key.issued',
  'api_key.revoked',
  'school.created',
  'schools.bulk_created',
  'school.renamed',
  'school.deleted',
  'run.approved',
  'run.discarded',
  'run.sync_now',
  'run.retried',
  'user.protection_changed',
]);
export type AuditKind = z.infer<typeof AuditKind>;
