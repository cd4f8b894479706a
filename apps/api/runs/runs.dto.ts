import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

// A POST without any body (`curl -X POST .../sync-now`) means a plain run.
export const SyncNowBody = z.preprocess(
  (body) => body ?? {},
  z
    .object({
      /** Stage and plan only: report what would change, apply nothing. */
      dryRun: z.boolean().default(false),
    })
    .strict(),
);
export class SyncNowDto extends createZodDto(SyncNowBody) {}
