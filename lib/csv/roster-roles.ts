/**
 * Roles a roster row may carry, how the file may spell them, and which are district-wide.
 */
export const ROLES = Object.freeze([
  'Teacher',
  'Coach',
  'School Admin',
  'Sub Admin',
  'System Admin',
  'Student',
  'Staff',
  'Aide',
  'Parent/Guardian',
] as const);
export type Role = (typeof ROLES)[number];

/** Sub Admins and System Admins see every school, so they need no School value. */
export const DISTRICT_WIDE_ROLES: ReadonlySet<string> = new Set<Role>(['Sub Admin', 'System Admin']);

/** Case, spaces, dashes, underscores and slashes do not matter: "school_admin", "SCHOOL ADMIN". */
export function normalizeRole(value: string): string {
  return value.toLowerCase().replace(/[\s\-_/]+/g, '');
}

const BY_NORMALIZED = new Map<string, Role>([
  ...ROLES.map((role) => [normalizeRole(role), role] as const),
  ['parent', 'Parent/Guardian'],
  ['guardian', 'Parent/Guardian'],
]);

export function canonicalRole(value: string): Role | undefined {
  return BY_NORMALIZED.get(normalizeRole(value));
}
