import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { DistrictSchedule } from '../../../lib/contracts/schedule';

/** Stores the zone as the runtime spells it ("america/chicago" -> "America/Chicago"). */
const canonicalZone = (zone: string): string =>
  new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;

const DistrictName = z
  .string()
  .trim()
  .min(1, 'name must not be empty')
  .max(200, 'name must be at most 200 characters');

const TimeZone = z
  .string()
  .max(64, 'timeZone must be at most 64 characters')
  .pipe(DistrictSchedule.shape.timeZone)
  .transform(canonicalZone);

export const CreateDistrictBody = z
  .object({
    name: DistrictName,
    slug: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{1,62}$/,
        'slug must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit (it becomes the SFTP username), e.g. "springfield-usd"',
      ),
    timeZone: TimeZone,
  })
  .strict();
export class CreateDistrictDto extends createZodDto(CreateDistrictBody) {}

/** The slug is the hosted SFTP username and folder name, so it never changes. */
export const UpdateDistrictBody = z
  .object({ name: DistrictName.optional(), timeZone: TimeZone.optional() })
  .strict()
  .refine((body) => body.name !== undefined || body.timeZone !== undefined, {
    message: 'Give name, timeZone or both: the slug cannot be changed (it is the SFTP username).',
  });
export type UpdateDistrictBody = z.infer<typeof UpdateDistrictBody>;
export class UpdateDistrictDto extends createZodDto(UpdateDistrictBody) {}
