import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh ed25519 key pair made by OpenSSH's own ssh-keygen, as a district's script would have. */
export function makeSshKey(): { dir: string; privateKeyPath: string; publicKey: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-key-'));
  const privateKeyPath = path.join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'nightly-export', '-f', privateKeyPath]);
  return { dir, privateKeyPath, publicKey: fs.readFileSync(`${privateKeyPath}.pub`, 'utf8').trim() };
}

/**
 * Arguments of OpenSSH's `sftp -b -` logging in with a key only, to a loopback server whose host
 * key is new each run. Extra options (a cipher, say) go before the destination.
 */
export function sftpClientArgs(opts: {
  port: number;
  username: string;
  keyPath: string;
  extraArgs?: string[];
}): string[] {
  return [
    '-b',
    '-',
    '-P',
    String(opts.port),
    '-i',
    opts.keyPath,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'LogLevel=ERROR',
    ...(opts.extraArgs ?? []),
    `${opts.username}@127.0.0.1`,
  ];
}

/**
 * Runs OpenSSH's sftp client in batch mode with a key; resolves with its output or rejects with it.
 * Asynchronous on purpose: the server under test often runs in this same process.
 */
export async function sftpBatch(opts: {
  port: number;
  username: string;
  keyPath: string;
  commands: string[];
  cwd?: string;
}): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = execFile(
      'sftp',
      sftpClientArgs(opts),
      { cwd: opts.cwd, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`sftp failed: ${stderr || err.message}`)) : resolve(stdout),
    );
    child.stdin?.end(opts.commands.join('\n') + '\n');
  });
}
