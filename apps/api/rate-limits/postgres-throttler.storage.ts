import type { OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RateLimitsRepository } from '../../../lib/db/repositories/rate-limits.repository';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How often a replica deletes finished windows, so the table holds only live counters. */
const CLEANUP_INTERVAL_MS = 60_000;

/**
 * @nestjs/throttler's storage in Postgres, so every API replica counts the same hits. Fixed windows:
 * a key over its limit waits for its window to end (blockDuration is not used), and Retry-After says
 * when that is.
 */
export class PostgresThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly cleanup: NodeJS.Timeout;

  constructor(private readonly repository: RateLimitsRepository) {
    this.cleanup = setInterval(() => {
      // A failed cleanup is retried at the next interval; counting goes on regardless.
      this.repository.deleteExpired().catch(() => undefined);
    }, CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const { hits, windowEndsInSeconds } = await this.repository.hit(key, ttl);
    const isBlocked = hits > limit;
    return {
      totalHits: hits,
      timeToExpire: windowEndsInSeconds,
      isBlocked,
      timeToBlockExpire: isBlocked ? windowEndsInSeconds : 0,
    };
  }

  onModuleDestroy(): void {
    clearInterval(this.cleanup);
  }
}
