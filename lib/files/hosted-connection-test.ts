import fs from 'node:fs';
import path from 'node:path';
import type { MatchingKey } from '../csv/roster-record';
import {
  type ConnectionTestResult,
  HEAD_BYTES,
  headerStep,
  type PickSettings,
  pickStep,
  StepFailure,
  StepRunner,
} from './connection-test';
import { listHostedFolder } from './hosted-source';

/**
 * Test Connection for the hosted server: there is no network to cross, so it answers the folder, the
 * file the next run would pick and that file's header.
 */
export async function testHostedConnection(
  settings: PickSettings & { root: string; matchingKey: MatchingKey },
): Promise<ConnectionTestResult> {
  const runner = new StepRunner(['path', 'file', 'header']);
  const where = 'the hosted SFTP server';
  const folder = await runner.run(
    'path',
    async () => {
      const st = await fs.promises.stat(settings.root).catch(() => undefined);
      if (!st?.isDirectory())
        throw new StepFailure(
          'PATH_MISSING',
          "The district's hosted folder is empty: nothing was uploaded yet. Upload the export to the hosted SFTP server (GET .../sftp-credentials gives the login).",
        );
      return { value: true, message: "The district's hosted folder exists." };
    },
    (limit) => new StepFailure('PATH_TIMEOUT', `Reading the hosted folder took more than ${limit}.`),
    'PATH_UNREADABLE',
  );
  if (!folder) return runner.result();
  const picked = await runner.run(
    'file',
    async () => pickStep(await listHostedFolder(settings.root), where, settings),
    (limit) => new StepFailure('FILE_LISTING_TIMEOUT', `Listing the hosted folder took more than ${limit}.`),
    'FILE_LISTING_FAILED',
  );
  if (!picked) return runner.result();
  await runner.run(
    'header',
    async () => {
      const file = await fs.promises.open(path.join(settings.root, picked.path), 'r');
      try {
        const buffer = Buffer.alloc(Math.min(HEAD_BYTES, picked.size));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
        const whole = picked.size <= HEAD_BYTES && bytesRead === picked.size;
        return await headerStep(buffer.subarray(0, bytesRead), whole, picked.path, settings.matchingKey);
      } finally {
        await file.close();
      }
    },
    (limit) =>
      new StepFailure('FILE_READ_TIMEOUT', `Reading the start of ${picked.path} took more than ${limit}.`),
    'FILE_UNREADABLE',
  );
  return runner.result();
}
