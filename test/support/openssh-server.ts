import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/dev/embedded-postgres';

/**
 * OpenSSH's own sshd on a loopback port, standing in for a district's SFTP server. Key login as
 * the current user; the test stops it.
 */
export interface OpenSshServer {
  port: number;
  username: string;
  privateKey: string;
  hostKeyFingerprint: string;
  dir: string;
  /**
   * A second login that does not own `dir`'s files (`nobody` when the tests run as root, where file
   * modes deny nothing to the owner; the current user otherwise): a folder of `dir` with mode 000
   * is denied to it. Its key is `privateKey` too. Set with `otherLogin`.
   */
  otherUsername: string;
  /** Adds a public key (OpenSSH one-line form) to both logins' authorized keys. */
  authorize(publicKey: string): void;
  stop(): Promise<void>;
}

export interface OpenSshOptions {
  /** Password logins are offered (every password fails: the test users have none sshd accepts). */
  passwordAuthentication?: boolean;
  /**
   * A folder of `dir`, made here, an SFTP session starts in (`internal-sftp -d`): the login's home
   * folder as clients see it.
   */
  homeFolder?: string;
  /** Allows the second login (`otherUsername`). */
  otherLogin?: boolean;
}

export async function startOpenSshServer(options: OpenSshOptions = {}): Promise<OpenSshServer> {
  const sshd = '/usr/sbin/sshd';
  if (!fs.existsSync(sshd))
    throw new Error('OpenSSH server is not installed: run `npm test`, whose install step adds it.');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostersync-sshd-'));
  fs.chmodSync(dir, 0o755);
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  keygen(path.join(dir, 'host_key'));
  keygen(path.join(dir, 'client_key'));
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  const fingerprint = execFileSync(
    'ssh-keygen',
    ['-l', '-E', 'sha256', '-f', path.join(dir, 'host_key.pub')],
    { encoding: 'utf8' },
  ).split(' ')[1];
  const port = await freePort();
  const username = os.userInfo().username;
  const otherUsername = process.getuid?.() === 0 ? 'nobody' : username;
  const users = options.otherLogin ? [...new Set([username, otherUsername])] : [username];
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PasswordAuthentication ${options.passwordAuthentication ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `AllowUsers ${users.join(' ')}`,
      `Subsystem sftp internal-sftp${options.homeFolder ? ` -d ${path.join(dir, options.homeFolder)}` : ''}`,
    ].join('\n') + '\n',
  );
  if (options.homeFolder) fs.mkdirSync(path.join(dir, options.homeFolder), { recursive: true });
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${stderr}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    username,
    privateKey: fs.readFileSync(path.join(dir, 'client_key'), 'utf8'),
    hostKeyFingerprint: fingerprint,
    dir,
    otherUsername,
    authorize: (publicKey) => fs.appendFileSync(path.join(dir, 'authorized_keys'), `${publicKey.trim()}\n`),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
