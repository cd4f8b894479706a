import type { IncomingMessage } from 'node:http';

/**
 * The credential an `Authorization: Bearer <credential>` header carries, or undefined without one.
 * Header values are capped by Node (16 KB for all headers), and the pattern is linear.
 */
export function bearerToken(request: Pick<IncomingMessage, 'headers'>): string | undefined {
  const match = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '');
  return match ? match[1].trim() : undefined;
}

/** Who made an authenticated request, for limits kept per credential (report downloads). */
export type Credential =
  | { kind: 'operator' }
  /** `prefix`: the key's display prefix (rsk_...), what admins see in the key list and the audit. */
  | { kind: 'district-key'; keyId: string; prefix: string };

const CREDENTIAL = Symbol('rostersync:credential');

type WithCredential = { [CREDENTIAL]?: Credential };

export function rememberCredential(request: object, credential: Credential): void {
  (request as WithCredential)[CREDENTIAL] = credential;
}

/** The credential BearerAuthGuard accepted for this request. */
export function credentialOf(request: object): Credential {
  const credential = (request as WithCredential)[CREDENTIAL];
  if (!credential) throw new Error('credentialOf called on a request that was not authenticated');
  return credential;
}
