import { RunFileFetcher, type RunFileFetcherDeps } from '../lib/files/run-file-fetcher';
import { currentActivity } from '../lib/temporal/activity-context';
import { withTypedFailures } from './typed-failure';
import type { SyncActivities } from './types';

export type FetchFileDeps = RunFileFetcherDeps;

/**
 * fetchFile: the run's file copied into its artifact slot (lib/files/run-file-fetcher.ts), with the
 * attempt's cancellation and timeout; its domain errors become typed failures.
 */
export function createFetchFileActivities(deps: FetchFileDeps): Pick<SyncActivities, 'fetchFile'> {
  const fetcher = new RunFileFetcher(deps);
  return {
    async fetchFile({ runId }) {
      // Outside an activity (tests, benchmark): no cancellation and no deadline.
      const ctx = currentActivity();
      const attempt = { signal: ctx?.cancellationSignal, limitMs: ctx?.info.startToCloseTimeoutMs };
      return await withTypedFailures(() => fetcher.fetch(runId, attempt), { runId });
    },
  };
}
