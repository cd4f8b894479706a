import { DateTime } from 'luxon';
import { z } from 'zod';

/**
 * Evaluated once per worker, before any workflow, and shared by every workflow (the worker's
 * `preloadModules`). The worker then freezes the plain objects these modules export, so whatever
 * they fill in lazily on first use must be filled in here first: zod sets its default locale and
 * memoizer in its global config when the first schema is built and used.
 */
z.object({ id: z.string().min(1) }).safeParse({ id: '' });
DateTime.fromMillis(0, { zone: 'UTC' }).toISO();
