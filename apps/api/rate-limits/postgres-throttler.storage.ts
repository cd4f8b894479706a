import { Logger, type OnModuleDestroy, ServiceUnavailableException } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RateLimitsRepository } from '../../../lib/db/repositories/rate-limits.repository';

/** What the throttler guard reads back for a hit (the package does not export the type by name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How often a replica deletes finished windows, so the table holds only live counters. */
const CLEANUP_INTERVAL_MS = 60_000;

/**
 * @nestjs/throttler's counters kept in Postgres (api_rate_limits), so every API replica counts
 * against the same limit. Fixed windows: a key over its limit stays blocked until its window ends.
 * Counting runs on its own small pool; when that pool cannot answer in time the request is refused
 * with a 503 rather than let through uncounted.
 */
export class PostgresThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger(PostgresThrottlerStorage.name);
  private readonly cleanup: NodeJS.Timeout;

  constructor(private readonly counters: RateLimitsRepository) {
    this.cleanup = setInterval(() => {
      // A failed cleanup is retried at the next interval; counting goes on regardless.
      this.counters.deleteExpired().catch(() => undefined);
    }, CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  async increment(key: string, ttlMs: number, limit: number): Promise<ThrottlerStorageRecord> {
    let hit;
    try {
      [hit] = await this.counters.hit([key], ttlMs);
    } catch (err) {
      this.logger.warn(`rate limit counters unavailable: ${(err as Error).message}`);
      throw new ServiceUnavailableException(
        'The API is too busy to count this request: nothing was done, try again in a few seconds.',
      );
    }
    const isBlocked = hit.hits > limit;
    return {
      totalHits: hit.hits,
      timeToExpire: hit.windowEndsInSeconds,
      isBlocked,
      timeToBlockExpire: isBlocked ? hit.windowEndsInSeconds : 0,
    };
  }

  onModuleDestroy(): void {
    clearInterval(this.cleanup);
  }
}
