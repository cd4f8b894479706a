import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pino from 'pino';
import { migrate } from '../../lib/db/migrate';
import { createPool } from '../../lib/db/pool';
import { SftpAccountsRepository } from '../../lib/sftp-server/sftp-accounts.repository';
import { loadSftpConfig } from '../../lib/sftp-server/sftp-config';
import { createSftpServer } from '../../lib/sftp-server/sftp-server';
import { freePort, startEmbeddedPostgres } from '../../scripts/dev/embedded-postgres';
import { startOpenSshServer } from '../../test/support/openssh-server';
import { sftpClientArgs } from '../../test/support/ssh-keys';

/**
 * Throughput (MB = MiB, 1,048,576 bytes) of the hosted SFTP server against OpenSSH's own sshd (internal-sftp), both on
 * loopback, both driven by the OpenSSH `sftp` client in batch mode with the same cipher:
 * upload then download of one random file, checked byte-identical by SHA-256.
 *
 *   node dist/bench/sftp/bench-sftp.js [--mb 200] [--runs 2] [--cipher aes128-gcm@openssh.com]
 *
 * Each direction runs --runs times per server; the best run counts (the machine is shared, so the
 * best is the least disturbed). Every server it starts is stopped at the end, whatever happens.
 * Target: at least half of sshd's throughput both ways.
 */

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive whole number`);
  return n;
}

function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  if (!value || value.startsWith('--')) throw new Error(`--${name} needs a value`);
  return value;
}

/** Writes `bytes` random bytes to `file` in 1 MiB chunks (memory stays flat) and returns its SHA-256. */
async function makeRandomFile(file: string, bytes: number): Promise<string> {
  const hash = crypto.createHash('sha256');
  const chunk = 1024 * 1024;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let left = bytes; left > 0; left -= chunk) {
      const piece = crypto.randomBytes(Math.min(chunk, left));
      hash.update(piece);
      yield piece;
    }
  }
  await pipeline(chunks(), fs.createWriteStream(file));
  return hash.digest('hex');
}

async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

interface Target {
  name: string;
  port: number;
  username: string;
  keyPath: string;
  /** Where the uploaded file lands, as the client names it and as it is on disk. */
  remotePath: string;
  diskPath: string;
}

/**
 * One `sftp -b -` command, timed from spawn to exit. Asynchronous: the hosted server runs in this
 * very process and must keep serving while the client works.
 */
function timedSftp(target: Target, cipher: string, command: string, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('sftp', sftpClientArgs({ ...target, extraArgs: ['-c', cipher] }), {
      cwd,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`sftp against ${target.name} failed (${command}): ${stderr.trim()}`));
    });
    child.stdin.end(`${command}\n`);
  });
}

interface Result {
  uploadMBps: number;
  downloadMBps: number;
}

async function measure(
  target: Target,
  opts: { cipher: string; runs: number; work: string; file: string; bytes: number; sha: string },
): Promise<Result> {
  const mbps = (ms: number) => opts.bytes / (1024 * 1024) / (ms / 1000);
  let bestUp = Infinity;
  let bestDown = Infinity;
  const back = path.join(opts.work, `back-${target.name}.bin`);
  for (let run = 0; run < opts.runs; run++) {
    fs.rmSync(target.diskPath, { force: true });
    bestUp = Math.min(
      bestUp,
      await timedSftp(target, opts.cipher, `put ${opts.file} ${target.remotePath}`, opts.work),
    );
    if ((await sha256File(target.diskPath)) !== opts.sha)
      throw new Error(`${target.name}: the uploaded file differs from the original`);
    fs.rmSync(back, { force: true });
    bestDown = Math.min(
      bestDown,
      await timedSftp(target, opts.cipher, `get ${target.remotePath} ${back}`, opts.work),
    );
    if ((await sha256File(back)) !== opts.sha)
      throw new Error(`${target.name}: the downloaded file differs from the original`);
  }
  fs.rmSync(back, { force: true });
  fs.rmSync(target.diskPath, { force: true });
  return { uploadMBps: mbps(bestUp), downloadMBps: mbps(bestDown) };
}

async function main(): Promise<void> {
  const mb = numberArg('mb', 200);
  const runs = numberArg('runs', 2);
  const cipher = stringArg('cipher', 'aes128-gcm@openssh.com');
  const bytes = mb * 1024 * 1024;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sftp-'));
  // Cleanups run last-in first-out, whatever happened; Ctrl-C runs them too.
  const cleanups: Array<() => Promise<void>> = [
    async () => fs.rmSync(work, { recursive: true, force: true }),
  ];
  const cleanUp = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
    }
  };
  const onSignal = (): void => {
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    console.log(`SFTP benchmark: ${mb} MiB file, OpenSSH sftp client, cipher ${cipher}, best of ${runs}`);
    const file = path.join(work, 'roster.bin');
    const sha = await makeRandomFile(file, bytes);

    const cluster = await startEmbeddedPostgres({
      dataDir: path.join(work, 'pg'),
      port: await freePort(),
      database: 'bench_sftp',
      durable: false,
    });
    cleanups.push(() => cluster.stop());
    await migrate(cluster.url);
    const pool = createPool(cluster.url, 4);
    cleanups.push(() => pool.end());
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO districts (name, slug, time_zone) VALUES ('Bench District', 'bench-district', 'America/Chicago') RETURNING id`,
    );
    const keyPath = path.join(work, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', keyPath]);
    await new SftpAccountsRepository(pool).addPublicKey(
      rows[0].id,
      fs.readFileSync(`${keyPath}.pub`, 'utf8'),
    );

    const root = path.join(work, 'sftp');
    const hosted = createSftpServer({
      pool,
      root,
      hostKeysDir: path.join(work, 'host-keys'),
      // Large enough for the file; the rest are the production defaults.
      config: loadSftpConfig({ SFTP_MAX_FILE_BYTES: String(bytes * 2), SFTP_QUOTA_BYTES: String(bytes * 4) }),
      // Logged as in production (info level), to a file so the figures include that work.
      log: pino({ level: 'info' }, pino.destination(path.join(work, 'sftp.log'))),
      onUploadComplete: () => undefined,
    });
    const hostedPort = await hosted.listen(0, '127.0.0.1');
    cleanups.push(() => hosted.close());

    const sshd = await startOpenSshServer();
    cleanups.push(() => sshd.stop());
    const sshdKey = path.join(work, 'sshd_client_key');
    fs.writeFileSync(sshdKey, sshd.privateKey, { mode: 0o600 });
    const sshdTarget = path.join(work, 'sshd-upload.bin');

    const opts = { cipher, runs, work, file, bytes, sha };
    const ours = await measure(
      {
        name: 'rostersync',
        port: hostedPort,
        username: 'bench-district',
        keyPath,
        remotePath: '/upload/roster.bin',
        diskPath: path.join(root, 'bench-district', 'upload', 'roster.bin'),
      },
      opts,
    );
    const baseline = await measure(
      {
        name: 'sshd',
        port: sshd.port,
        username: sshd.username,
        keyPath: sshdKey,
        remotePath: sshdTarget,
        diskPath: sshdTarget,
      },
      opts,
    );

    const fmt = (n: number) => n.toFixed(1).padStart(8);
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log('');
    console.log('                  upload MB/s   download MB/s');
    console.log(`rostersync SFTP   ${fmt(ours.uploadMBps)}      ${fmt(ours.downloadMBps)}`);
    console.log(`OpenSSH sshd      ${fmt(baseline.uploadMBps)}      ${fmt(baseline.downloadMBps)}`);
    console.log(
      `ratio (ours/sshd) ${ratio(ours.uploadMBps, baseline.uploadMBps).padStart(8)}      ${ratio(ours.downloadMBps, baseline.downloadMBps).padStart(8)}   (target >= 0.50)`,
    );
    console.log('all transfers byte-identical (sha256)');
    console.log(
      `peak RSS of this process (hosted server included): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
