import crypto from 'node:crypto';
import { type Env, loadEnv } from '../../lib/config/env';

/** The operator token of test processes that do not choose their own. */
export const TEST_API_TOKEN = 'test-token-' + 'x'.repeat(24);

/**
 * The settings a process under test starts with, parsed as at boot: its database and data folder,
 * the operator token and a fresh SECRET_KEY, then `settings` (environment variables) on top.
 */
export function testEnv(
  base: { db: { url: string }; dataDir: string },
  settings: Record<string, string> = {},
): Readonly<Env> {
  return loadEnv({
    DATABASE_URL: base.db.url,
    API_TOKEN: TEST_API_TOKEN,
    SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    DATA_DIR: base.dataDir,
    ...settings,
  });
}
