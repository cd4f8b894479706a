import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadEnv } from '../../../lib/config/env';
import { connectClient, connectWorker } from '../../../lib/temporal/connection';
import { startTestTemporal } from '../../support/temporal';

/**
 * TLS to Temporal as a production cluster asks for it: the dev server behind a TLS endpoint that
 * requires a client certificate signed by its CA (mutual TLS, as Temporal Cloud or a self-hosted
 * cluster with mTLS does), answering only HTTP/2 (gRPC).
 */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=Test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  for (const [name, subject, ext] of [
    ['server', '/CN=temporal.test', 'subjectAltName=DNS:temporal.test'],
    ['client', '/CN=rostersync-worker', 'extendedKeyUsage=clientAuth'],
  ]) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  }
}

describe('TLS to Temporal (TEMPORAL_TLS_*)', () => {
  let temporal: TestWorkflowEnvironment;
  let endpoint: tls.Server;
  let address: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-tls-'));
  const file = (name: string) => path.join(dir, name);
  const baseEnv = {
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    API_TOKEN: 'x'.repeat(32),
    SECRET_KEY: 'a'.repeat(64),
  };

  before(async () => {
    makeCertificates(dir);
    temporal = await startTestTemporal();
    const [host, port] = [temporal.address.split(':')[0], Number(temporal.address.split(':')[1])];
    endpoint = tls.createServer(
      {
        key: fs.readFileSync(file('server.key')),
        cert: fs.readFileSync(file('server.crt')),
        ca: fs.readFileSync(file('ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (socket) => {
        const upstream = net.connect(port, host);
        socket.pipe(upstream).pipe(socket);
        const close = () => {
          socket.destroy();
          upstream.destroy();
        };
        socket.on('error', close);
        upstream.on('error', close);
      },
    );
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(endpoint.address() as net.AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => endpoint?.close(() => resolve()));
    await temporal?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tlsEnv = () =>
    loadEnv({
      ...baseEnv,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TLS_CA_PATH: file('ca.crt'),
      TEMPORAL_TLS_CERT_PATH: file('client.crt'),
      TEMPORAL_TLS_KEY_PATH: file('client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
    });

  it('connects the API / SFTP client and the worker with a client certificate', async () => {
    const client = await connectClient(tlsEnv());
    try {
      const { namespaceInfo } = await client.workflowService.describeNamespace({ namespace: 'default' });
      assert.equal(namespaceInfo?.name, 'default');
    } finally {
      await client.connection.close();
    }
    const worker = await connectWorker(tlsEnv());
    await worker.close();
  });

  it('is refused without the client certificate, and names the unreadable file', async () => {
    const env = loadEnv({
      ...baseEnv,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TLS_CA_PATH: file('ca.crt'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
    });
    await assert.rejects(async () => {
      const client = await connectClient(env);
      try {
        await client.workflowService.describeNamespace({ namespace: 'default' });
      } finally {
        await client.connection.close();
      }
    });
    await assert.rejects(
      () => connectClient(loadEnv({ ...baseEnv, TEMPORAL_TLS_CA_PATH: file('missing.crt') })),
      /TEMPORAL_TLS_CA_PATH=.*missing\.crt cannot be read/,
    );
  });

  it('refuses a client certificate without its key at boot', () => {
    assert.throws(
      () => loadEnv({ ...baseEnv, TEMPORAL_TLS_CERT_PATH: file('client.crt') }),
      /TEMPORAL_TLS_KEY_PATH: .*go together/,
    );
  });
});
