import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  ServiceUnavailableException,
} from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';
import type { Env } from '../../../lib/config/env';
import { RateLimitsRepository } from '../../../lib/db/repositories/rate-limits.repository';
import { isApiKeyShaped } from '../api-keys/api-key-secret';
import { ENV, RATE_LIMITS } from '../api.tokens';
import { bearerToken } from '../common/bearer-token';
import { inWords, TooManyRequestsException } from '../common/too-many-requests.exception';

const MINUTE_MS = 60_000;
/** How often a replica deletes finished windows, so the table holds only live counters. */
const CLEANUP_INTERVAL_MS = 60_000;
const sha256 = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

/**
 * The rate limits every route shares, checked before authentication (this guard is registered
 * first), so a flood of made-up tokens costs one counter upsert each and never reaches a key lookup:
 * - `address`: requests per minute from one client address (an IPv6 client's whole /64, which it
 *   can rotate through at will), whatever they carry; behind API_TRUST_PROXY_HOPS proxies, the
 *   address they forwarded;
 * - `credential`: requests per minute with one credential, from any address. Only the operator
 *   token or a value shaped like a district key gets a counter of its own, valid or not: invented
 *   rsk_ values do add rows, as many a minute as the address limit lets one address send, and each
 *   row goes once its window is over.
 * Both counters of a request are bumped in one statement, on a pool of their own (RATE_LIMITS): a
 * flood waits for those few connections, or is refused within a second, and never takes the
 * connections requests and authentication use.
 */
@Injectable()
export class ApiRateLimitGuard implements CanActivate, OnModuleDestroy {
  private readonly logger = new Logger(ApiRateLimitGuard.name);
  private readonly operator: Buffer;
  private readonly cleanup: NodeJS.Timeout;

  constructor(
    @Inject(RATE_LIMITS) private readonly counters: RateLimitsRepository,
    @Inject(ENV) private readonly env: Readonly<Env>,
  ) {
    this.operator = sha256(env.API_TOKEN);
    this.cleanup = setInterval(() => {
      // A failed cleanup is retried at the next interval; counting goes on regardless.
      this.counters.deleteExpired().catch(() => undefined);
    }, CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<IncomingMessage & { ip?: string }>();
    const limits = [
      {
        key: `address:${normalizeIp(String(request.ip ?? 'unknown'))}`,
        limit: this.env.API_RATE_LIMIT_PER_ADDRESS,
        who: 'from your address',
      },
    ];
    const credential = this.credentialKey(request);
    if (credential !== undefined)
      limits.push({
        key: `credential:${credential}`,
        limit: this.env.API_RATE_LIMIT_PER_CREDENTIAL,
        who: 'with this credential',
      });
    let hits;
    try {
      hits = await this.counters.hit(
        limits.map((l) => l.key),
        MINUTE_MS,
      );
    } catch (err) {
      this.logger.warn(`rate limit counters unavailable: ${(err as Error).message}`);
      throw new ServiceUnavailableException(
        'The API is too busy to count this request: nothing was done, try again in a few seconds.',
      );
    }
    limits.forEach(({ limit, who }, i) => {
      const { hits: count, windowEndsInSeconds } = hits[i];
      if (count <= limit) return;
      throw new TooManyRequestsException(
        `Too many requests ${who}: the limit is ${limit} a minute. Try again ${inWords(windowEndsInSeconds)}; ` +
          'if your integration needs more, ask rostersync support to raise the limit.',
        windowEndsInSeconds,
      );
    });
    return true;
  }

  /** The counter key of the request's credential, hashing the token once; undefined for none. */
  private credentialKey(request: IncomingMessage): string | undefined {
    const token = bearerToken(request);
    if (token === undefined) return undefined;
    const digest = sha256(token);
    // The operator token may be a chosen phrase: its digest is not stored where a dump could test guesses.
    if (crypto.timingSafeEqual(digest, this.operator)) return 'operator';
    // District keys are 256 random bits; their digest is what api_keys stores already.
    return isApiKeyShaped(token) ? digest.toString('hex') : undefined;
  }

  onModuleDestroy(): void {
    clearInterval(this.cleanup);
  }
}
