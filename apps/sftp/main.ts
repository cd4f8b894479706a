import path from 'node:path';
import pino from 'pino';
import { loadEnv } from '../../lib/config/env';
import { createPool } from '../../lib/db/pool';
import { createSftpServer } from '../../lib/sftp-server/sftp-server';
import { sftpLimits } from '../../lib/sftp-server/sftp-config';
import { connectClient } from '../../lib/temporal/connection';
import { DistrictSyncClient } from '../../lib/temporal/district-sync.client';
import { signalFileArrived } from './file-arrived';

/**
 * The hosted SFTP server process: one jailed folder per district under DATA_DIR/sftp, host keys
 * under DATA_DIR/sftp-host-keys (made on first start, then kept so clients' known_hosts stay valid).
 * Listens on SFTP_HOST:SFTP_PORT; stops cleanly on SIGINT/SIGTERM.
 */
async function run(): Promise<void> {
  const env = loadEnv();
  const log = pino({ level: env.LOG_LEVEL, base: { app: 'sftp' } });
  const pool = createPool(env.DATABASE_URL, 8, 'sftp');
  await pool.query('SELECT 1').catch(async (err: Error) => {
    await pool.end();
    throw new Error(`Cannot reach Postgres at DATABASE_URL: ${err.message}`);
  });
  const client = await connectClient(env).catch(async (err: Error) => {
    await pool.end();
    throw new Error(`Cannot reach Temporal at TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS}: ${err.message}`);
  });
  const districtSync = new DistrictSyncClient(client, env.TEMPORAL_TASK_QUEUE, {
    catchUpWindowHours: env.CATCH_UP_WINDOW_HOURS,
  });
  const dataDir = path.resolve(env.DATA_DIR);
  const server = createSftpServer({
    pool,
    root: path.join(dataDir, 'sftp'),
    hostKeysDir: path.join(dataDir, 'sftp-host-keys'),
    config: sftpLimits(env),
    log,
    onUploadComplete: signalFileArrived(districtSync, log),
  });
  try {
    await server.listen(env.SFTP_PORT, env.SFTP_HOST).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        throw new Error(
          `SFTP_PORT=${env.SFTP_PORT} is already in use on ${env.SFTP_HOST}; pick a free port.`,
        );
      throw err;
    });
    console.log(`rostersync SFTP listening on ${env.SFTP_HOST}:${env.SFTP_PORT}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    await server.close();
    await client.connection.close();
    await pool.end();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
