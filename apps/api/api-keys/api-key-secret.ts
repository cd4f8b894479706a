import crypto from 'node:crypto';

/**
 * District API keys: `rsk_` and 43 random base62 characters (~256 bits). Such a key cannot be
 * guessed or brute-forced from its hash, so a fast SHA-256 is the right digest (a slow password hash
 * would only slow every request down); a keyed hash would add nothing and tie keys to SECRET_KEY.
 */
export const API_KEY_PREFIX = 'rsk_';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const RANDOM_LENGTH = 43;
/** `rsk_` and 8 characters: enough to tell keys apart in a list, far too little to guess the rest. */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
const KEY_SHAPE = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9]{${RANDOM_LENGTH}}$`);

export interface NewApiKey {
  key: string;
  prefix: string;
  keyHash: Buffer;
}

export const hashApiKey = (key: string): Buffer => crypto.createHash('sha256').update(key).digest();

export function generateApiKey(): NewApiKey {
  let random = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) random += ALPHABET[crypto.randomInt(ALPHABET.length)];
  const key = API_KEY_PREFIX + random;
  return { key, prefix: displayPrefix(key), keyHash: hashApiKey(key) };
}

/** True for anything shaped like a district key; other bearer values are checked as API_TOKEN only. */
export const isApiKeyShaped = (value: string): boolean => KEY_SHAPE.test(value);

export const displayPrefix = (key: string): string => key.slice(0, DISPLAY_PREFIX_LENGTH);
