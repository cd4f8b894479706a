import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

/** A school's name, exactly as roster rows must spell it. */
export const SchoolName = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(200, 'name must be at most 200 characters');

export const SchoolBody = z.object({ name: SchoolName }).strict();
export class SchoolDto extends createZodDto(SchoolBody) {}

export const MAX_BULK_SCHOOLS = 1000;

/** Names are checked one by one (an invalid one is reported, the others still added). */
export const BulkSchoolsBody = z
  .object({
    names: z
      .array(z.string('names must be a list of strings'), 'names must be a list of school names')
      .min(1, 'names must not be empty')
      .max(MAX_BULK_SCHOOLS, `names must list at most ${MAX_BULK_SCHOOLS} schools; send several requests`),
  })
  .strict();
export class BulkSchoolsDto extends createZodDto(BulkSchoolsBody) {}
