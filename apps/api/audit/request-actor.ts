import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { credentialOf } from '../common/bearer-token';

/** Who is making the request being handled, and from which address: what the audit trail records. */
export interface RequestActor {
  /** 'operator', or 'key rsk_ab12cd34' (a district key by its display prefix). */
  actor: string;
  address: string | null;
}

const actors = new AsyncLocalStorage<RequestActor>();

/** The actor of the request this code runs for; services call it only while handling a request. */
export function currentActor(): RequestActor {
  const actor = actors.getStore();
  if (!actor) throw new Error('currentActor() called outside an authenticated request');
  return actor;
}

/**
 * Makes the authenticated request's actor available to the services it calls (through the
 * handler's whole async chain), so recording a change needs no request threaded through every
 * signature. Runs after the guards, so the credential is known; public routes carry none.
 */
@Injectable()
export class RequestActorInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<IncomingMessage & { ip?: string }>();
    let actor: RequestActor;
    try {
      const credential = credentialOf(request);
      actor = {
        actor: credential.kind === 'operator' ? 'operator' : `key ${credential.prefix}`,
        address: request.ip ?? null,
      };
    } catch {
      return next.handle();
    }
    return new Observable((subscriber) => actors.run(actor, () => next.handle().subscribe(subscriber)));
  }
}
