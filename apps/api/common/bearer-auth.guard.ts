import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Env } from '../../../lib/config/env';
import { ENV } from '../api.tokens';
import { IS_PUBLIC } from './public.decorator';

const sha256 = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

/**
 * Every route requires `Authorization: Bearer <API_TOKEN>` unless marked @Public(). Both sides are
 * hashed first so timingSafeEqual compares equal lengths and leaks neither the token nor its length.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(
    private readonly reflector: Reflector,
    @Inject(ENV) env: Readonly<Env>,
  ) {
    this.expected = sha256(env.API_TOKEN);
  }

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const header = context.switchToHttp().getRequest<IncomingMessage>().headers.authorization;
    const match = /^Bearer (.+)$/i.exec(header ?? '');
    if (!match)
      throw new UnauthorizedException(
        'Missing credentials: send the header "Authorization: Bearer <API_TOKEN>" (the token the API was started with).',
      );
    if (!crypto.timingSafeEqual(sha256(match[1].trim()), this.expected))
      throw new UnauthorizedException('Invalid API token: check the API_TOKEN value you are sending.');
    return true;
  }
}
