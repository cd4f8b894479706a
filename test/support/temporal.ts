import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../lib/temporal/search-attributes';

/** The real Temporal dev server (the CLI binary built by scripts/ensure-temporal.sh), one per test file. */
export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_BIN;
  if (!path)
    throw new Error(
      'TEMPORAL_BIN is not set: run the tests through `npm test`, which builds and locates it.',
    );
  return await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      ip: '127.0.0.1',
      searchAttributes: SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error'],
    },
  });
}
