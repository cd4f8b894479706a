import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

export const MAX_PAGE_SIZE = 100;

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`)
    .default(10),
  offset: z.coerce
    .number()
    .int('offset must be a whole number')
    .min(0, 'offset must be 0 or more')
    .max(1_000_000, 'offset must be at most 1000000')
    .default(0),
});
export type PageQuery = z.infer<typeof PageQuery>;
export class PageQueryDto extends createZodDto(PageQuery) {}
