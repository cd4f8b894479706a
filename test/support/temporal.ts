import fs from 'node:fs';
import nodePath from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { devServerArgs } from '../../lib/temporal/dev-server';
import { SEARCH_ATTRIBUTES } from '../../lib/temporal/search-attributes';
import { REPO_ROOT } from './paths';
import { useForSuite } from './suite';

// Worker and bundler progress would drown the test report: only warnings and errors are shown.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** The real Temporal dev server (the CLI binary built by scripts/ensure-temporal.sh), one per test file. */
export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_BIN ?? nodePath.join(REPO_ROOT, '.tools', 'bin', 'temporal');
  if (!fs.existsSync(path))
    throw new Error(`No Temporal CLI at ${path}: run the tests through \`npm test\`, which builds it.`);
  // The SDK gives the dev server a fixed 5 s to answer and kills it otherwise; on a loaded 2-core
  // machine a cold start can take longer, so a timed-out start is tried again (a fresh port each time).
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path },
          ip: '127.0.0.1',
          searchAttributes: SEARCH_ATTRIBUTES,
          extraArgs: devServerArgs(),
        },
      });
    } catch (err) {
      if (attempt >= 4 || !/did not start within/.test((err as Error).message)) throw err;
    }
  }
}

/** The suite's (or file's) own dev server, torn down after its tests. */
export function useTestTemporal(): TestWorkflowEnvironment {
  return useForSuite(startTestTemporal, (env) => env.teardown());
}
