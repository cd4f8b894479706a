import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { DistrictSchedule } from '../../../lib/contracts/schedule';

/** Stores the zone as the runtime spells it ("america/chicago" -> "America/Chicago"). */
const canonicalZone = (zone: string): string =>
  new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;

export const CreateDistrictBody = z
  .object({
    name: z.string().trim().min(1, 'name must not be empty').max(200, 'name must be at most 200 characters'),
    slug: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{1,62}$/,
        'slug must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit (it becomes the SFTP username), e.g. "springfield-usd"',
      ),
    timeZone: z
      .string()
      .max(64, 'timeZone must be at most 64 characters')
      .pipe(DistrictSchedule.shape.timeZone)
      .transform(canonicalZone),
  })
  .strict();
export class CreateDistrictDto extends createZodDto(CreateDistrictBody) {}

export const CreateSchoolBody = z
  .object({
    name: z.string().trim().min(1, 'name must not be empty').max(200, 'name must be at most 200 characters'),
  })
  .strict();
export class CreateSchoolDto extends createZodDto(CreateSchoolBody) {}
