import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../support/paths';

const run = promisify(execFile);

/**
 * The production stack as docker-compose resolves it (no container engine runs here: `config` reads,
 * interpolates and validates the file without one), checked for what an operator relies on.
 */
const SETTINGS: Record<string, string> = {
  POSTGRES_PASSWORD: 'pg-secret',
  TEMPORAL_DB_PASSWORD: 'temporal-secret',
  API_TOKEN: 'operator-token-of-32-characters!',
  SECRET_KEY: 'ab'.repeat(32),
  PUBLIC_API_URL: 'https://rostersync.example.org',
  SFTP_PUBLIC_HOST: 'sftp.rostersync.example.org',
  SMTP_URL: 'smtp://relay.example.org:587',
};

interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<{ source: string; target: string } | string>;
  environment?: Record<string, string>;
}

async function resolvedStack(settings: Record<string, string>): Promise<Record<string, Service>> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...settings };
  const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: REPO_ROOT,
    env,
  });
  const json = await yamlToJson(stdout);
  return (JSON.parse(json) as { services: Record<string, Service> }).services;
}

/** docker-compose's own Python has a YAML reader: the resolved file becomes JSON for the checks. */
async function yamlToJson(yamlText: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [
      '-c',
      'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))',
    ]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`python3 exited with ${code}`)),
    );
    child.stdin.end(yamlText);
  });
}

const LONG_RUNNING = ['postgres', 'temporal-db', 'temporal', 'temporal-ui', 'api', 'worker', 'sftp'];
const ONE_SHOTS = ['temporal-schema', 'temporal-setup', 'migrate'];

describe('the production stack (docker-compose.yml)', () => {
  it('refuses to start without each secret and public address, naming it', async () => {
    for (const name of Object.keys(SETTINGS)) {
      const rest = { ...SETTINGS };
      delete rest[name];
      await assert.rejects(resolvedStack(rest), (err: Error & { stderr?: string }) => {
        assert.match(err.stderr ?? '', new RegExp(`set ${name}`), name);
        return true;
      });
    }
  });

  it('restarts what runs, runs the one-shot jobs once, and checks the health of Postgres, Temporal and the API', async () => {
    const services = await resolvedStack(SETTINGS);
    assert.deepEqual(Object.keys(services).sort(), [...LONG_RUNNING, ...ONE_SHOTS].sort());
    for (const name of LONG_RUNNING) assert.equal(services[name].restart, 'unless-stopped', name);
    for (const name of ONE_SHOTS) assert.equal(services[name].restart, 'no', name);
    for (const name of ['postgres', 'temporal-db', 'temporal', 'api'])
      assert.ok(services[name].healthcheck, name);
    assert.deepEqual(services.temporal.depends_on, {
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    for (const app of ['api', 'worker', 'sftp']) {
      assert.deepEqual(services[app].depends_on, {
        migrate: { condition: 'service_completed_successfully' },
        'temporal-setup': { condition: 'service_completed_successfully' },
      });
      assert.equal(
        services[app].environment?.DATABASE_URL,
        'postgres://rostersync:pg-secret@postgres:5432/rostersync',
      );
    }
    assert.deepEqual(services.migrate.depends_on, { postgres: { condition: 'service_healthy' } });
    // Public by design: behind the operator's TLS proxy, with no OpenAPI pages.
    assert.equal(services.api.environment?.API_TRUST_PROXY_HOPS, '1');
    assert.equal(services.api.environment?.API_DOCS, 'false');
  });

  it("uses Temporal's production server image, with its schema set up by a job, not auto-setup", async () => {
    const services = await resolvedStack(SETTINGS);
    assert.match(services.temporal.image ?? '', /^temporalio\/server:/);
    const images = Object.values(services).map((s) => s.image ?? '');
    assert.ok(!images.some((image) => image.includes('auto-setup')), images.join(', '));
  });

  it('gives each app only the data it needs: the API has neither uploads nor SFTP host keys', async () => {
    const services = await resolvedStack(SETTINGS);
    const mounts = (name: string) =>
      (services[name].volumes ?? [])
        .map((v) => (typeof v === 'string' ? v.replace(/:rw$/, '') : `${v.source}:${v.target}`))
        .sort();
    assert.deepEqual(mounts('api'), ['artifacts:/data/artifacts']);
    assert.deepEqual(mounts('worker'), ['artifacts:/data/artifacts', 'uploads:/data/sftp']);
    assert.deepEqual(mounts('sftp'), ['sftp-host-keys:/data/sftp-host-keys', 'uploads:/data/sftp']);
  });

  it("makes the data folders the volumes mount on writable by the image's user", () => {
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    const chown = runtime.indexOf('chown -R node:node /data');
    assert.ok(chown > 0 && chown < runtime.indexOf('USER node'), 'chown before USER node');
    for (const folder of ['/data/sftp', '/data/sftp-host-keys', '/data/artifacts'])
      assert.ok(runtime.includes(folder), folder);
  });
});
