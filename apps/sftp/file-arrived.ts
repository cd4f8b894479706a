import type { Logger } from 'pino';
import type { OnUploadComplete } from '../../lib/sftp-server/upload-completion';
import type { DistrictSyncClient } from '../../lib/temporal/district-sync.client';

/**
 * Tells the district's workflow that a complete upload arrived. The workflow decides whether to
 * act (its config's "process on arrival"); a failed signal is logged, never fatal: the file stays
 * in the folder and the next scheduled run or Sync Now reads it.
 */
export function signalFileArrived(districtSync: DistrictSyncClient, log: Logger): OnUploadComplete {
  return async ({ districtId, username, path }) => {
    try {
      const delivered = await districtSync.fileArrived(districtId, path);
      log.info({ district: districtId, username, path, delivered }, 'upload complete');
    } catch (err) {
      log.error(
        { district: districtId, username, path, err: (err as Error).message },
        'upload complete, but the district workflow could not be told; the next run will read the file',
      );
    }
  };
}
