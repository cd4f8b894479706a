import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Env } from '../../../lib/config/env';
import { type ApiKeyCredential, ApiKeysRepository } from '../../../lib/db/repositories/api-keys.repository';
import { displayPrefix, hashApiKey, isApiKeyShaped } from '../api-keys/api-key-secret';
import { ENV } from '../api.tokens';
import { bearerToken, rememberCredential } from './bearer-token';
import { DISTRICT_KEY_ACCESS, type DistrictKeyAccess } from './district-key-access.decorator';
import { IS_PUBLIC } from './public.decorator';

const sha256 = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

/** lastUsedAt is a hint for support ("is this key still in use?"), so one write a minute is plenty. */
const TOUCH_INTERVAL_SECONDS = 60;

type Request = IncomingMessage & { params?: Record<string, string | undefined> };

/**
 * Every route requires a bearer credential unless marked @Public():
 * - the operator token API_TOKEN (support and our own tooling) reaches every route;
 * - a district API key (`rsk_...`) reaches only routes marked @DistrictKeys: `own-district` ones
 *   for its own district's `:id` (any other district is 404, exactly as an unknown one, so a key
 *   learns nothing about other districts) and `reference` ones; every other route is 403.
 * Secrets are compared as SHA-256 digests with timingSafeEqual: equal lengths, nothing leaked by timing.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysRepository,
    @Inject(ENV) env: Readonly<Env>,
  ) {
    this.expected = sha256(env.API_TOKEN);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const presented = bearerToken(request);
    if (presented === undefined)
      throw new UnauthorizedException(
        'Missing credentials: send the header "Authorization: Bearer <token>" with the API_TOKEN the API was started with, or your district API key (rsk_...).',
      );
    if (this.isOperatorToken(presented)) {
      rememberCredential(request, { kind: 'operator' });
      return true;
    }
    // Anything not shaped like a district key is refused without a database lookup.
    if (!isApiKeyShaped(presented))
      throw new UnauthorizedException('Invalid API token: check the API_TOKEN value you are sending.');

    const key = await this.authenticate(presented);
    if (!key)
      throw new UnauthorizedException(
        'Invalid API key: it is unknown or has been revoked; ask rostersync support for a new key.',
      );
    rememberCredential(request, { kind: 'district-key', keyId: key.id, prefix: displayPrefix(presented) });
    if (key.lastUsedAt === null || Date.now() - key.lastUsedAt.getTime() >= TOUCH_INTERVAL_SECONDS * 1000)
      await this.apiKeys.touch(key.id, TOUCH_INTERVAL_SECONDS);

    const access = this.reflector.getAllAndOverride<DistrictKeyAccess | undefined>(
      DISTRICT_KEY_ACCESS,
      targets,
    );
    if (access === 'reference') return true;
    if (access !== 'own-district')
      throw new ForbiddenException(
        "A district API key cannot call this route: it reaches only its own district's routes (/districts/<its district id>/...). Ask rostersync support for anything else.",
      );
    // Guards run before UuidParamPipe lowercases the path id; Postgres writes uuids in lowercase.
    if (request.params?.id?.toLowerCase() !== key.districtId)
      throw new NotFoundException(
        "District not found: a district API key reaches only its own district's routes (/districts/<its district id>/...).",
      );
    return true;
  }

  private isOperatorToken(presented: string): boolean {
    return crypto.timingSafeEqual(sha256(presented), this.expected);
  }

  /** The unrevoked key whose hash matches, looked up by its display prefix. */
  private async authenticate(presented: string): Promise<ApiKeyCredential | undefined> {
    const hash = hashApiKey(presented);
    const candidates = await this.apiKeys.findByPrefix(displayPrefix(presented));
    return candidates.find((row) => crypto.timingSafeEqual(row.keyHash, hash) && row.revokedAt === null);
  }
}
