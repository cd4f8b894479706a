import { z } from 'zod';

/**
 * How a district's files are read: the format, the column mapping of the `mapped` format (which
 * also overrides OneRoster's default columns), and the OneRoster schools options. One definition
 * each for the API body, the stored config, the reader and the run's record. Pure (zod only).
 */

/** `template`: rostersync's own columns; `mapped`: any CSV through the column mapping; `oneroster_1_1`: an IMS OneRoster 1.1 CSV package. */
export const RosterFormat = z.enum(['template', 'mapped', 'oneroster_1_1']);
export type RosterFormat = z.infer<typeof RosterFormat>;

/**
 * Product fields a column can hold. `fullName` is one column with both names (`Last, First` or
 * `First Last`), instead of `firstName` and `lastName`; `status` says whether the person is active.
 */
export const MappableField = z.enum([
  'firstName',
  'lastName',
  'fullName',
  'email',
  'internalId',
  'school',
  'role',
  'coachEmail',
  'accountingId',
  'cleverId',
  'platformId',
  'phone',
  'status',
]);
export type MappableField = z.infer<typeof MappableField>;

/**
 * What a row whose value for a field is missing or invalid becomes: `report` keeps the row
 * (without that value) and reports an error-severity finding on it; `skip` skips the row and
 * reports it as skipped. The matching key and the names are always `skip`: no user without them.
 */
export const DataRequirement = z.enum(['report', 'skip']);
export type DataRequirement = z.infer<typeof DataRequirement>;

/** A header as the file writes it; matched ignoring case, spaces, dashes, underscores and quotes. */
const Header = z.string().trim().min(1).max(255);
/** A value as the file writes it; matched case-insensitively. */
const FileValue = z.string().trim().min(1).max(100);

export const FieldMapping = z.strictObject({
  header: Header,
  /** A row without a value for it is a row error even if the field is optional in the product. */
  required: z.boolean().default(false),
  requirement: DataRequirement.default('skip'),
});
export type FieldMapping = z.infer<typeof FieldMapping>;

export const FullNameOrder = z.enum(['last_comma_first', 'first_last']);
export type FullNameOrder = z.infer<typeof FullNameOrder>;

export const MAX_MAPPED_CUSTOM_FIELDS = 200;
export const MAX_VALUE_MAPPINGS = 200;

export const ColumnMapping = z.strictObject({
  fields: z.partialRecord(MappableField, FieldMapping),
  /** How the `fullName` column writes a name. */
  fullNameOrder: FullNameOrder.default('last_comma_first'),
  /** More columns kept, each under a named custom field. Columns not mapped are ignored. */
  custom: z
    .array(z.strictObject({ header: Header, field: z.string().trim().min(1).max(255) }))
    .max(MAX_MAPPED_CUSTOM_FIELDS)
    .default([]),
  /** The file's role values and the product role each means (a product role name, e.g. `Teacher`). */
  roleValues: z
    .array(z.strictObject({ value: FileValue, role: z.string().trim().min(1).max(100) }))
    .max(MAX_VALUE_MAPPINGS)
    .default([]),
  /** Status values meaning active and archived; any other value is a row error. */
  statusValues: z
    .strictObject({
      active: z.array(FileValue).max(MAX_VALUE_MAPPINGS),
      archived: z.array(FileValue).max(MAX_VALUE_MAPPINGS),
    })
    .default({
      active: ['active', 'enabled', 'true', 'yes', '1'],
      archived: ['inactive', 'deleted', 'disabled', 'false', 'no', '0'],
    }),
});
export type ColumnMapping = z.infer<typeof ColumnMapping>;

export const MAX_ORG_MAPPINGS = 10_000;

/** How OneRoster orgs become the district's schools. */
export const OneRosterOptions = z.strictObject({
  /** Explicit `orgSourcedId -> school name`, before matching orgs to schools by exact name. */
  orgMappings: z
    .array(
      z.strictObject({
        orgSourcedId: z.string().trim().min(1).max(255),
        school: z.string().trim().min(1).max(255),
      }),
    )
    .max(MAX_ORG_MAPPINGS)
    .default([]),
  /** Create a school for each org of type `school` that neither a mapping nor a name matches. */
  createMissingSchools: z.boolean().default(false),
});
export type OneRosterOptions = z.infer<typeof OneRosterOptions>;
