import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { NativeConnection } from '@temporalio/worker';
import type { Env } from '../config/env';

export type TemporalEnv = Pick<
  Env,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CA_PATH'
  | 'TEMPORAL_TLS_CERT_PATH'
  | 'TEMPORAL_TLS_KEY_PATH'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/**
 * How every process reaches Temporal: plain on the embedded dev server; TLS (optionally mutual, with
 * a client certificate) or an API key for Temporal Cloud or a self-hosted cluster behind TLS. The
 * files are read once, at boot, so a missing certificate stops the process with its variable's name.
 */
export function temporalConnectionOptions(env: TemporalEnv): {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
} {
  const read = (name: keyof TemporalEnv, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${name}=${file} cannot be read: ${(err as Error).message}`);
    }
  };
  const tlsOn =
    env.TEMPORAL_TLS ||
    env.TEMPORAL_TLS_CA_PATH !== undefined ||
    env.TEMPORAL_TLS_CERT_PATH !== undefined ||
    env.TEMPORAL_API_KEY !== undefined;
  if (!tlsOn) return { address: env.TEMPORAL_ADDRESS };
  const tls: TLSConfig = {};
  if (env.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = env.TEMPORAL_TLS_SERVER_NAME;
  if (env.TEMPORAL_TLS_CA_PATH)
    tls.serverRootCACertificate = read('TEMPORAL_TLS_CA_PATH', env.TEMPORAL_TLS_CA_PATH);
  if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
    tls.clientCertPair = {
      crt: read('TEMPORAL_TLS_CERT_PATH', env.TEMPORAL_TLS_CERT_PATH),
      key: read('TEMPORAL_TLS_KEY_PATH', env.TEMPORAL_TLS_KEY_PATH),
    };
  }
  return {
    address: env.TEMPORAL_ADDRESS,
    tls,
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}

/** A client for the API and the SFTP server; the caller closes `client.connection` on shutdown. */
export async function connectClient(env: TemporalEnv & Pick<Env, 'TEMPORAL_NAMESPACE'>): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(env));
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

/** The worker's connection (native, shared by its pollers). */
export async function connectWorker(env: TemporalEnv): Promise<NativeConnection> {
  return await NativeConnection.connect(temporalConnectionOptions(env));
}
