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
import type { PostgresThrottlerStorage } from './postgres-throttler.storage';

const MINUTE_MS = 60_000;
const sha256 = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

/**
 * The rate limits every route shares, checked before authentication (this guard is registered
 * first), so a flood of made-up tokens costs one counter upsert each and never reaches a key lookup:
 * - `address`: requests per minute from one client address (an IPv6 client's whole /64, which it
 *   can rotate through at will), whatever they carry; behind API_TRUST_PROXY_HOPS proxies, the
 *   address they forwarded;
 * - `credential`: requests per minute with one credential, from any address. Only a value that
 *   could be a credential (the operator token, or shaped like a district key) gets a counter of its
 *   own; anything else is refused by authentication without a lookup, so inventing values cannot
 *   fill the table.
 */
export function apiThrottlers(env: Readonly<Env>, storage: PostgresThrottlerStorage): ThrottlerModuleOptions {
  const operator = sha256(env.API_TOKEN);
  const credentialKey = (request: IncomingMessage): string | undefined => {
    const token = bearerToken(request);
    if (token === undefined) return undefined;
    const digest = sha256(token);
    // The operator token may be a chosen phrase: its digest is not stored where a dump could test guesses.
    if (crypto.timingSafeEqual(digest, operator)) return 'operator';
    // District keys are 256 random bits; their digest is what api_keys stores already.
    return isApiKeyShaped(token) ? digest.toString('hex') : undefined;
  };
  return {
    storage,
    setHeaders: false,
    throttlers: [
      {
        name: 'address',
        ttl: MINUTE_MS,
        limit: env.API_RATE_LIMIT_PER_ADDRESS,
        getTracker: (request) => normalizeIp(String((request as { ip?: string }).ip ?? 'unknown')),
      },
      {
        name: 'credential',
        ttl: MINUTE_MS,
        limit: env.API_RATE_LIMIT_PER_CREDENTIAL,
        skipIf: (context) =>
          credentialKey(context.switchToHttp().getRequest<IncomingMessage>()) === undefined,
        getTracker: (request) => credentialKey(request as IncomingMessage) ?? '',
      },
    ],
  };
}

/** ThrottlerGuard with one counter per key across all routes, and 429s that say when to try again. */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfter = detail.timeToBlockExpire;
    const who = detail.key.startsWith('address:') ? 'from your address' : 'with this credential';
    throw new TooManyRequestsException(
      `Too many requests ${who}: the limit is ${detail.limit} a minute. Try again ${inWords(retryAfter)}; ` +
        'if your integration needs more, ask rostersync support to raise the limit.',
      retryAfter,
    );
  }
}
