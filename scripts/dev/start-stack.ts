import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { migrate } from '../../lib/db/migrate';
import { devServerArgs } from '../../lib/temporal/dev-server';
import { assertPortFree, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
import { seedDemoDistrict } from './demo-district';
import { startSmtpCatcher, type SmtpCatcher } from './smtp-catcher';

/**
 * `npm start`: the whole system on its embedded default, on loopback. Anything configured through
 * DATABASE_URL, TEMPORAL_ADDRESS or SMTP_URL is used instead of the embedded part. Ctrl-C stops
 * everything; the data under .data/ survives for the next start.
 */
const ROOT = path.resolve(__dirname, '../../..');
const DATA_DIR = path.resolve(ROOT, process.env.DATA_DIR ?? '.data');

class StartError extends Error {}

function portSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new StartError(`${name}=${raw} is not a port number (1-65535).`);
  return port;
}

/** API token and encryption key: from the environment, else generated once and kept under .data/. */
function secrets(): { apiToken: string; secretKey: string } {
  const file = path.join(DATA_DIR, 'secrets.json');
  const saved = fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>)
    : {};
  const apiToken = process.env.API_TOKEN ?? saved.API_TOKEN ?? crypto.randomBytes(24).toString('base64url');
  const secretKey = process.env.SECRET_KEY ?? saved.SECRET_KEY ?? crypto.randomBytes(32).toString('hex');
  fs.writeFileSync(file, JSON.stringify({ API_TOKEN: apiToken, SECRET_KEY: secretKey }, null, 2), {
    mode: 0o600,
  });
  fs.writeFileSync(path.join(DATA_DIR, 'api-token'), `${apiToken}\n`, { mode: 0o600 });
  return { apiToken, secretKey };
}

async function checkDatabase(url: string): Promise<void> {
  const client = new PgClient({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new StartError(
      `DATABASE_URL: cannot connect to ${redact(url)} (${(err as Error).message}). Fix the URL or start that server, or unset DATABASE_URL to use the embedded Postgres under .data/.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

const redact = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

async function waitForTemporal(address: string, timeoutMs: number, setting: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new StartError(
    `${setting}: Temporal at ${address} did not answer within ${timeoutMs / 1000}s (${lastError}).`,
  );
}

/** Resolves once something accepts TCP connections on the loopback port (the SFTP server listens after publishing its host keys). */
async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`${what} did not listen on port ${port} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function pipeOutput(name: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    readline
      .createInterface({ input: stream })
      .on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
}

function temporalBinary(): string {
  const local = path.join(ROOT, '.tools', 'bin', 'temporal');
  if (process.env.TEMPORAL_BIN) return process.env.TEMPORAL_BIN;
  if (fs.existsSync(local)) return local;
  throw new StartError(
    'No Temporal CLI: run `npm start` (scripts/start.sh builds it) or set TEMPORAL_ADDRESS.',
  );
}

async function main(): Promise<void> {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const { apiToken, secretKey } = secrets();
  const ports = {
    postgres: portSetting('PG_PORT', 54329),
    temporal: portSetting('TEMPORAL_PORT', 7233),
    temporalUi: portSetting('TEMPORAL_UI_PORT', 8233),
    smtp: portSetting('SMTP_PORT', 1025),
    mailUi: portSetting('MAIL_UI_PORT', 1080),
    api: portSetting('API_PORT', 3000),
    sftp: portSetting('SFTP_PORT', 2222),
  };
  const children: Array<{ name: string; child: ChildProcess }> = [];
  let pg: EmbeddedPostgres | undefined;
  let catcher: SmtpCatcher | undefined;
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping rostersync...');
    for (const { child } of children.slice().reverse()) {
      if (child.exitCode !== null) continue;
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => (child.kill('SIGKILL'), resolve()), 15_000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
      });
    }
    await catcher?.close();
    await pg?.stop();
    console.log('Stopped. Data is kept under .data/ for the next start.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    // The app ports are checked first so a clash is reported before anything starts.
    await assertPortFree(ports.api, '127.0.0.1', 'API_PORT');
    await assertPortFree(ports.sftp, '127.0.0.1', 'SFTP_PORT');

    let databaseUrl = process.env.DATABASE_URL;
    if (databaseUrl) {
      await checkDatabase(databaseUrl);
    } else {
      console.log(`Starting Postgres (.data/postgres, 127.0.0.1:${ports.postgres})...`);
      pg = await startEmbeddedPostgres({
        dataDir: path.join(DATA_DIR, 'postgres'),
        port: ports.postgres,
        portSetting: 'PG_PORT',
      });
      databaseUrl = pg.url;
    }
    console.log('Applying database migrations...');
    await migrate(databaseUrl);

    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    if (temporalAddress) {
      await waitForTemporal(temporalAddress, 10_000, 'TEMPORAL_ADDRESS');
    } else {
      await assertPortFree(ports.temporal, '127.0.0.1', 'TEMPORAL_PORT');
      await assertPortFree(ports.temporalUi, '127.0.0.1', 'TEMPORAL_UI_PORT');
      fs.mkdirSync(path.join(DATA_DIR, 'temporal'), { recursive: true });
      console.log(
        `Starting the Temporal dev server (SQLite under .data/temporal, 127.0.0.1:${ports.temporal})...`,
      );
      const temporal = spawn(
        temporalBinary(),
        [
          'server',
          'start-dev',
          '--ip',
          '127.0.0.1',
          '--port',
          String(ports.temporal),
          '--ui-port',
          String(ports.temporalUi),
          '--db-filename',
          path.join(DATA_DIR, 'temporal', 'temporal.db'),
          '--search-attribute',
          'DistrictId=Keyword',
          '--search-attribute',
          'SyncTrigger=Keyword',
          ...devServerArgs(),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      pipeOutput('temporal', temporal);
      children.push({ name: 'temporal', child: temporal });
      temporalAddress = `127.0.0.1:${ports.temporal}`;
      await waitForTemporal(temporalAddress, 60_000, 'TEMPORAL_PORT');
    }

    let smtpUrl = process.env.SMTP_URL;
    if (!smtpUrl) {
      await assertPortFree(ports.smtp, '127.0.0.1', 'SMTP_PORT');
      await assertPortFree(ports.mailUi, '127.0.0.1', 'MAIL_UI_PORT');
      catcher = await startSmtpCatcher({
        dir: path.join(DATA_DIR, 'mail'),
        smtpPort: ports.smtp,
        httpPort: ports.mailUi,
      });
      smtpUrl = `smtp://127.0.0.1:${ports.smtp}`;
    }

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      SMTP_URL: smtpUrl,
      API_TOKEN: apiToken,
      SECRET_KEY: secretKey,
      API_PORT: String(ports.api),
      SFTP_PORT: String(ports.sftp),
      DATA_DIR,
    };
    for (const app of ['worker', 'sftp', 'api']) {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'apps', app, 'main.js')], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      pipeOutput(app, child);
      children.push({ name: app, child });
    }
    for (const { name, child } of children) {
      child.once('exit', (code) => {
        if (stopping) return;
        console.error(
          `${name} exited unexpectedly (code ${code}); stopping everything. Its last lines are above.`,
        );
        void stopAll(1);
      });
    }

    const apiUrl = `http://127.0.0.1:${ports.api}`;
    // The demo's host key fingerprints are the ones the SFTP server publishes when it starts.
    await waitForPort(ports.sftp, 60_000, 'The hosted SFTP server');
    const demo = await seedDemoDistrict({ apiUrl, apiToken, dataDir: DATA_DIR });
    const lines = [
      '',
      'rostersync is running (Ctrl-C stops everything; data stays in .data/).',
      `  API            ${apiUrl}   (token: ${apiToken}, also in .data/api-token)`,
      `  API docs       ${apiUrl}/docs   (OpenAPI JSON: ${apiUrl}/docs-json)`,
      process.env.TEMPORAL_ADDRESS
        ? `  Temporal       ${temporalAddress}`
        : `  Temporal UI    http://127.0.0.1:${ports.temporalUi}   (server ${temporalAddress})`,
      catcher
        ? `  Mail (caught)  http://127.0.0.1:${ports.mailUi}   (SMTP ${smtpUrl})`
        : `  SMTP           ${redact(smtpUrl)}`,
      `  SFTP           sftp -P ${ports.sftp} ${demo.username}@127.0.0.1`,
      `  Postgres       ${redact(databaseUrl)}`,
      '',
      `Demo district "${demo.name}" (id ${demo.id})`,
      `  SFTP username  ${demo.username}`,
      `  SFTP password  ${demo.password}   (also in .data/demo-sftp-password)`,
      ...demo.fingerprints.map((f) => `  Host key       ${f.algorithm} ${f.fingerprint}`),
      '',
    ];
    console.log(lines.join('\n'));
  } catch (err) {
    console.error(`\nrostersync did not start: ${(err as Error).message}`);
    await stopAll(1);
  }
}

void main();
