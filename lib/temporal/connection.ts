import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Env } from '../config/env';

/** A client for the API and the SFTP server; the caller closes `client.connection` on shutdown. */
export async function connectClient(
  env: Pick<Env, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>,
): Promise<Client> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

/** The worker's connection (native, shared by its pollers). */
export async function connectWorker(env: Pick<Env, 'TEMPORAL_ADDRESS'>): Promise<NativeConnection> {
  return await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
}
