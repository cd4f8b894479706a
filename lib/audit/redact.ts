/**
 * Audit documents never hold a secret: any property whose name says it holds one (a password, a
 * private key or its passphrase, a token, an encrypted blob, a key hash) is replaced by a marker
 * that says only whether a value was there. Walked with a depth and size bound: the input is a
 * request body or a stored record, never unbounded, but a bound costs nothing.
 */
const SECRET_NAME = /(password|passphrase|privatekey|secret|token|apikey|keyhash|enc$)/i;
const MAX_DEPTH = 8;
const MAX_ITEMS = 1000;

export const REDACTED = '[redacted]';

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((item) => redactSecrets(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(value).slice(0, MAX_ITEMS)) {
    // Names are property names of our own shapes (short); the pattern has no nested repetition.
    // A flag such as hasPassword says only whether a secret exists: booleans are kept.
    const secret = SECRET_NAME.test(name.replace(/[_-]/g, '')) && inner != null && typeof inner !== 'boolean';
    out[name] = secret ? REDACTED : redactSecrets(inner, depth + 1);
  }
  return out;
}
