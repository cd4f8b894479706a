import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

// A POST without any body (`curl -X POST .../api-keys`) issues a key without a label.
export const IssueApiKeyBody = z.preprocess(
  (body) => body ?? {},
  z
    .object({
      /** Who or what holds the key, e.g. "SIS nightly export": shown in lists, never secret. */
      label: z
        .string()
        .trim()
        .min(1, 'label must not be empty (leave it out for no label)')
        .max(100, 'label must be at most 100 characters')
        .optional(),
    })
    .strict(),
);
export class IssueApiKeyDto extends createZodDto(IssueApiKeyBody) {}
