import path from 'node:path';

/** The repository root, from compiled (dist/test/support) or source locations alike. */
export const REPO_ROOT = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
);
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
