import { encryptSecret } from '../../../lib/crypto/secret-box';
import type {
  ExternalServerSettings,
  SyncConfigRecord,
} from '../../../lib/db/repositories/sync-configs.repository';
import type { ExternalServerBody } from './sync-config.dto';

export type ExternalSecrets = Pick<
  SyncConfigRecord,
  'externalPasswordEnc' | 'externalKeyEnc' | 'externalKeyPassphraseEnc'
>;

/**
 * The encrypted secrets a config given as `ext` ends with, for PUT and for Test Connection alike.
 * A secret left out keeps its stored value, so admins need not re-enter it on every save; null
 * removes it. Without an external block nothing about the external server is kept. A stored secret
 * is only ever kept for the same server, login and host key: otherwise a config that points at
 * another host would have the worker send the district's password there. A new private key drops
 * the stored passphrase (it belonged to the old key).
 */
export function resolveExternalSecrets(
  secretKey: string,
  ext: ExternalServerBody | null,
  existing: SyncConfigRecord | undefined,
): ExternalSecrets & { sameServer: boolean } {
  const sameServer = !!ext && !!existing?.external && sameLogin(existing.external, ext);
  const secret = (value: string | null | undefined, stored: string | null | undefined): string | null => {
    if (!ext || value === null) return null;
    if (value === undefined) return sameServer ? (stored ?? null) : null;
    return encryptSecret(secretKey, value);
  };
  const externalKeyEnc = secret(ext?.privateKey, existing?.externalKeyEnc);
  const keptKey = ext?.privateKey === undefined;
  return {
    sameServer,
    externalPasswordEnc: secret(ext?.password, existing?.externalPasswordEnc),
    externalKeyEnc,
    externalKeyPassphraseEnc: externalKeyEnc
      ? secret(ext?.privateKeyPassphrase, keptKey ? existing?.externalKeyPassphraseEnc : null)
      : null,
  };
}

/** Whether a saved external server is the one the stored secret was given for. */
function sameLogin(
  stored: ExternalServerSettings,
  next: Pick<ExternalServerBody, 'host' | 'port' | 'username' | 'hostKeyFingerprint'>,
): boolean {
  return (
    stored.host.toLowerCase() === next.host.toLowerCase() &&
    stored.port === next.port &&
    stored.username === next.username &&
    // OpenSSH prints the fingerprint without base64 padding; a pasted one may carry a trailing '='.
    stored.hostKeyFingerprint.replace(/=+$/, '') === (next.hostKeyFingerprint ?? '').replace(/=+$/, '')
  );
}
