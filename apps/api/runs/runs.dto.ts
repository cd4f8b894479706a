import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

export const SyncNowBody = z
  .object({
    /** Stage and plan only: report what would change, apply nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict();
export class SyncNowDto extends createZodDto(SyncNowBody) {}
