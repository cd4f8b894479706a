import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type ExecutionContext, Injectable } from '@nestjs/common';
import {
  normalizeIp,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
} from '@nestjs/throttler';
import type { Env } from '../../../lib/config/env';
import { isApiKeyShaped } from '../api-keys/api-key-secret';
import { bearerToken } from '../common/bearer-token';
import { inWords, TooManyRequestsException } from '../common/too-many-requests.exception';

const MINUTE_MS = 60_000;
const sha256 = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

/** What a refused caller is told the limit counted. */
const WHO = { address: 'from your address', credential: 'with this credential' } as const;
type LimitName = keyof typeof WHO;

/**
 * The two limits every route shares, for @nestjs/throttler (see ApiRateLimitGuard):
 * - `address`: requests per minute from one client address (an IPv6 client's whole /64, which it
 *   can rotate through at will), whatever they carry; behind API_TRUST_PROXY_HOPS proxies, the
 *   address they forwarded;
 * - `credential`: requests per minute with one credential, from any address. Only the operator
 *   token or a value shaped like a district key gets a counter of its own, valid or not: invented
 *   rsk_ values do add rows, as many a minute as the address limit lets one address send, and each
 *   row goes once its window is over.
 * Counters are per limit and tracker, not per route: the limits are for the whole API.
 */
export function apiRateLimits(env: Readonly<Env>): ThrottlerModuleOptions {
  const operator = sha256(env.API_TOKEN);
  return {
    throttlers: [
      {
        name: 'address',
        ttl: MINUTE_MS,
        limit: env.API_RATE_LIMIT_PER_ADDRESS,
        getTracker: (req) => normalizeIp(String((req as { ip?: string }).ip ?? 'unknown')),
      },
      {
        name: 'credential',
        ttl: MINUTE_MS,
        limit: env.API_RATE_LIMIT_PER_CREDENTIAL,
        getTracker: (req) => credentialTracker(req as IncomingMessage, operator) ?? '',
        skipIf: (context) =>
          credentialTracker(context.switchToHttp().getRequest<IncomingMessage>(), operator) === undefined,
      },
    ],
    generateKey: (_context, tracker, name) => `${name}:${tracker}`,
  };
}

/** The counter key of the request's credential; undefined for none worth a counter. */
function credentialTracker(request: IncomingMessage, operator: Buffer): string | undefined {
  const token = bearerToken(request);
  if (token === undefined) return undefined;
  const digest = sha256(token);
  // The operator token may be a chosen phrase: its digest is not stored where a dump could test guesses.
  if (crypto.timingSafeEqual(digest, operator)) return 'operator';
  // District keys are 256 random bits; their digest is what api_keys stores already.
  return isApiKeyShaped(token) ? digest.toString('hex') : undefined;
}

/**
 * @nestjs/throttler's guard with the API's limits (apiRateLimits) and storage (PostgresThrottlerStorage),
 * registered before authentication so a flood of made-up tokens costs a counter upsert each and never
 * reaches a key lookup. A refusal says which limit, its size and when to try again (Retry-After).
 */
@Injectable()
export class ApiRateLimitGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const name = detail.key.slice(0, detail.key.indexOf(':')) as LimitName;
    const seconds = Math.max(1, detail.timeToBlockExpire);
    throw new TooManyRequestsException(
      `Too many requests ${WHO[name]}: the limit is ${detail.limit} a minute. Try again ${inWords(seconds)}; ` +
        'if your integration needs more, ask rostersync support to raise the limit.',
      seconds,
    );
  }
}
