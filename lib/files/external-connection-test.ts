import type dns from 'node:dns';
import net from 'node:net';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { MatchingKey } from '../csv/roster-record';
import {
  type ConnectionTestResult,
  errnoOf,
  HEAD_BYTES,
  headerStep,
  type PickSettings,
  pickStep,
  type StepName,
  StepFailure,
  StepRunner,
  STEP_LIMITS_MS,
} from './connection-test';
import { checkHost, pinnedLookup } from './external-host-guard';
import {
  type ExternalSftpSettings,
  hostNotAllowedMessage,
  listExternalFolder,
  openSshFingerprint,
  privateKeyProblem,
  sameFingerprint,
} from './external-sftp-source';
import type { DirEntry } from './pick-file';
import { SourceWatch } from './source-watch';

/** A district's own SFTP server as a config (saved or candidate) names it, secrets decrypted. */
export interface ExternalTestSettings
  extends PickSettings, Omit<ExternalSftpSettings, 'hostKeyFingerprint' | 'path'> {
  /** Absent: the step reports the server's fingerprint so the admin can pin it, and stops there. */
  hostKeyFingerprint?: string;
  /** Null: the login's home folder. */
  path: string | null;
  matchingKey: MatchingKey;
}

const STEPS: readonly StepName[] = ['dns', 'tcp', 'ssh', 'auth', 'path', 'file', 'header'];
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

const sftpCode = (err: unknown): number | undefined => (err as { code?: unknown }).code as number | undefined;

/**
 * Walks the way a run takes to a district's own server, stopping at the first step that fails.
 * Messages name the host as the admin wrote it, never an address it resolved to.
 */
export async function testExternalConnection(
  settings: ExternalTestSettings,
  opts: { allowPrivateAddresses: boolean; limitsMs?: Readonly<Record<StepName, number>> },
): Promise<ConnectionTestResult> {
  const runner = new StepRunner(STEPS, opts.limitsMs);
  const server = `${settings.host}:${settings.port}`;
  const client = new Client();
  let socket: net.Socket | undefined;
  try {
    const addresses = await runner.run(
      'dns',
      () => lookUp(settings.host, opts.allowPrivateAddresses),
      (limit) =>
        new StepFailure(
          'CONNECTION_DNS_FAILED',
          `The name ${settings.host} did not resolve within ${limit}: check the host name, or the district's DNS.`,
        ),
      'CONNECTION_DNS_FAILED',
    );
    if (!addresses) return runner.result();
    socket = await runner.run(
      'tcp',
      () => connectTcp(settings, addresses),
      (limit) =>
        new StepFailure(
          'CONNECTION_TIMEOUT',
          `${server} did not accept a connection within ${limit}: the host is down, or a firewall drops the connection (ask the district to allow rostersync's public address on port ${settings.port}).`,
        ),
      'CONNECTION_FAILED',
    );
    if (!socket) return runner.result();
    const keyProblem = settings.privateKey
      ? privateKeyProblem(settings.privateKey, settings.passphrase)
      : undefined;
    const login = startSsh(client, socket, settings, !keyProblem);
    const handshake = await runner.run(
      'ssh',
      () => login.handshake,
      (limit) =>
        new StepFailure(
          'SSH_HANDSHAKE_TIMEOUT',
          `${server} accepted the connection but did not complete an SSH handshake within ${limit}: the port is probably not an SSH server's (check the port), or the server is overloaded.`,
        ),
      'SSH_HANDSHAKE_FAILED',
    );
    if (handshake === undefined) return runner.result();
    if (keyProblem) runner.fail('auth', new StepFailure(keyProblem.code, keyProblem.message));
    else
      await runner.run(
        'auth',
        () => login.ready,
        (limit) =>
          new StepFailure(
            'AUTH_TIMEOUT',
            `${server} did not finish the login of '${settings.username}' within ${limit}.`,
          ),
        'AUTH_FAILED',
      );
    const sftp = await runner.run(
      'path',
      () => checkFolder(client, settings.path),
      (limit) => new StepFailure('PATH_TIMEOUT', `${server} did not answer for the folder within ${limit}.`),
      'PATH_UNREADABLE',
    );
    if (!sftp) return runner.result();
    const cancel = new AbortController();
    const picked = await runner.run(
      'file',
      async () => pickStep(await listFolder(sftp.sftp, sftp.root, server, cancel.signal), server, settings),
      (limit) => {
        cancel.abort();
        return new StepFailure(
          'FILE_LISTING_TIMEOUT',
          `Listing the folder on ${server} took more than ${limit}.`,
        );
      },
      'FILE_LISTING_FAILED',
    );
    if (!picked) return runner.result();
    await runner.run(
      'header',
      async () => {
        const { head, whole } = await readHead(sftp.sftp, joinPath(sftp.root, picked.path), picked.size);
        return await headerStep(head, whole, picked.path, settings.matchingKey);
      },
      (limit) =>
        new StepFailure(
          'FILE_READ_TIMEOUT',
          `Reading the start of ${picked.path} on ${server} took more than ${limit}.`,
        ),
      'FILE_UNREADABLE',
    );
    return runner.result();
  } finally {
    client.destroy();
    socket?.destroy();
  }
}

async function lookUp(host: string, allowPrivate: boolean) {
  let checked: Awaited<ReturnType<typeof checkHost>>;
  try {
    checked = await checkHost(host, allowPrivate);
  } catch (err) {
    throw new StepFailure(
      'CONNECTION_DNS_FAILED',
      `The name ${host} does not resolve${errnoOf(err)}: check the host name in the config.`,
    );
  }
  if ('refused' in checked)
    throw new StepFailure('HOST_NOT_ALLOWED', hostNotAllowedMessage(host, checked.refused));
  return { value: checked.addresses, message: `${host} resolves to an address rostersync may connect to.` };
}

function connectTcp(settings: ExternalTestSettings, addresses: dns.LookupAddress[]) {
  const server = `${settings.host}:${settings.port}`;
  return new Promise<{ value: net.Socket; message: string }>((resolve, reject) => {
    const socket = net.connect({ host: settings.host, port: settings.port, lookup: pinnedLookup(addresses) });
    socket.once('connect', () => resolve({ value: socket, message: `${server} accepted a TCP connection.` }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (err.code === 'ECONNREFUSED')
        reject(
          new StepFailure(
            'CONNECTION_REFUSED',
            `${server} refused the connection: nothing listens on port ${settings.port}, or a firewall rejects it. Check the port with the district.`,
          ),
        );
      else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH')
        reject(
          new StepFailure(
            'CONNECTION_UNREACHABLE',
            `${server} cannot be reached from rostersync's network (${err.code}): check the host name, or the district's firewall and routing.`,
          ),
        );
      else reject(new StepFailure('CONNECTION_FAILED', `The connection to ${server} failed${errnoOf(err)}.`));
    });
  });
}

/** Starts the SSH login; the handshake settles once the host key is checked, `ready` once logged in. */
function startSsh(client: Client, socket: net.Socket, settings: ExternalTestSettings, useKey: boolean) {
  const server = `${settings.host}:${settings.port}`;
  let seen: string | undefined;
  const pinned = settings.hostKeyFingerprint;
  const config: ConnectConfig = {
    sock: socket,
    username: settings.username,
    password: settings.password,
    ...(useKey && { privateKey: settings.privateKey, passphrase: settings.passphrase }),
    readyTimeout: STEP_LIMITS_MS.ssh + STEP_LIMITS_MS.auth,
    hostVerifier: (key: Buffer) => {
      seen = openSshFingerprint(key);
      return pinned !== undefined && sameFingerprint(seen, pinned);
    },
  };
  const failure = (err: Error & { level?: string }): StepFailure => {
    if (seen && !pinned)
      return new StepFailure(
        'HOST_KEY_UNKNOWN',
        `${server} presented host key ${seen}. No fingerprint is pinned in the config, so rostersync stopped before logging in: check this fingerprint with the district (ssh-keygen -lf on the server's host key) and save it as external.hostKeyFingerprint.`,
        { fingerprint: seen },
      );
    if (seen && pinned && !sameFingerprint(seen, pinned))
      return new StepFailure(
        'HOST_KEY_MISMATCH',
        `${server} presented host key ${seen}, not the pinned ${pinned}: rostersync refused to log in. If the district changed its server's key, check the new fingerprint with them and update external.hostKeyFingerprint; otherwise someone may be impersonating the server.`,
        { fingerprint: seen, pinned },
      );
    if (err.level === 'client-authentication') {
      const tried = [settings.password && 'password', settings.privateKey && 'private key']
        .filter(Boolean)
        .join(' and ');
      return new StepFailure(
        'AUTH_FAILED',
        `${server} refused user '${settings.username}'${tried ? ` with the ${tried} given` : ': the config gives neither a password nor a private key'}. Check the username, password or key with the district (a key's public half must be in the user's authorized_keys).`,
      );
    }
    return new StepFailure(
      'SSH_HANDSHAKE_FAILED',
      `${server} accepted the connection but the SSH handshake failed: check that the port is the server's SFTP (SSH) port.`,
    );
  };
  type Settled = { value: true; message: string; detail?: Record<string, unknown> };
  const settle = (on: (done: () => void) => void, answer: () => Settled) =>
    new Promise<Settled>((resolve, reject) => {
      on(() => resolve(answer()));
      client.once('error', (err) => reject(failure(err)));
    });
  const handshake = settle(
    (done) => client.once('handshake', done),
    () => ({
      value: true,
      message: `${server} speaks SSH and presented the pinned host key.`,
      detail: { fingerprint: seen },
    }),
  );
  const ready = settle(
    (done) => client.once('ready', done),
    () => ({ value: true, message: `Logged in as '${settings.username}'.` }),
  );
  ready.catch(() => undefined);
  handshake.catch(() => undefined);
  client.on('error', () => undefined);
  client.connect(config);
  return { handshake, ready };
}

const joinPath = (root: string, rel: string) => (root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`);

/** The path step: an SFTP session and the folder a run lists, there and readable. */
async function checkFolder(client: Client, path: string | null) {
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((err, s) =>
      err
        ? reject(
            new StepFailure(
              'SFTP_UNAVAILABLE',
              'The server allows the login but not SFTP (no sftp subsystem for this user): ask the district to enable SFTP for it.',
            ),
          )
        : resolve(s),
    ),
  );
  const root =
    path ??
    (await new Promise<string>((resolve, reject) =>
      sftp.realpath('.', (err, p) => (err ? reject(err) : resolve(p))),
    ));
  const shown = path ? `Folder ${root}` : `The home folder of the login (${root})`;
  const attrs = await new Promise<{ isDirectory(): boolean }>((resolve, reject) =>
    sftp.stat(root, (err, a) => {
      if (!err) return resolve(a);
      if (sftpCode(err) === SFTP_NO_SUCH_FILE)
        reject(
          new StepFailure(
            'PATH_MISSING',
            `${shown} does not exist on the server: check external.path (it is case-sensitive), or ask the district to create it.`,
            { path: root },
          ),
        );
      else if (sftpCode(err) === SFTP_PERMISSION_DENIED)
        reject(
          new StepFailure(
            'PATH_PERMISSION_DENIED',
            `${shown} cannot be read by this login (permission denied): ask the district to give it read access.`,
            { path: root },
          ),
        );
      else reject(err);
    }),
  );
  if (!attrs.isDirectory())
    throw new StepFailure(
      'PATH_NOT_A_FOLDER',
      `${shown} is a file, not a folder: external.path names the folder the exports are put in.`,
      { path: root },
    );
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.opendir(root, (err, h) =>
      err && sftpCode(err) === SFTP_PERMISSION_DENIED
        ? reject(
            new StepFailure(
              'PATH_PERMISSION_DENIED',
              `${shown} exists but this login may not list it (permission denied): ask the district to give it read access.`,
              { path: root },
            ),
          )
        : err
          ? reject(err)
          : resolve(h),
    ),
  );
  sftp.close(handle, () => undefined);
  return {
    value: { sftp, root },
    message: `${shown} exists and can be listed.`,
    detail: { path: root, homeFolder: path === null },
  };
}

function listFolder(
  sftp: SFTPWrapper,
  root: string,
  server: string,
  cancelled: AbortSignal,
): Promise<DirEntry[]> {
  const limit = STEP_LIMITS_MS.file;
  const watch = new SourceWatch(
    { operationMs: limit, stallMs: limit, minBytesPerSecond: 0, windowMs: limit },
    server,
    cancelled,
  );
  return listExternalFolder(sftp, root, watch).finally(() => watch.dispose());
}

/** At most HEAD_BYTES from the start of the file, and whether that is the whole file. */
async function readHead(
  sftp: SFTPWrapper,
  remotePath: string,
  size: number,
): Promise<{ head: Buffer; whole: boolean }> {
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(remotePath, 'r', (err, h) =>
      err && sftpCode(err) === SFTP_PERMISSION_DENIED
        ? reject(
            new StepFailure(
              'FILE_PERMISSION_DENIED',
              `${remotePath} is there but this login may not read it (permission denied): ask the district to give it read access.`,
            ),
          )
        : err
          ? reject(err)
          : resolve(h),
    ),
  );
  try {
    const buffer = Buffer.alloc(Math.min(HEAD_BYTES, size));
    let filled = 0;
    while (filled < buffer.length) {
      const n = await new Promise<number>((resolve, reject) =>
        sftp.read(handle, buffer, filled, buffer.length - filled, filled, (err, bytesRead) =>
          err ? reject(err) : resolve(bytesRead),
        ),
      );
      if (n === 0) break;
      filled += n;
    }
    return { head: buffer.subarray(0, filled), whole: size <= HEAD_BYTES && filled === size };
  } finally {
    sftp.close(handle, () => undefined);
  }
}
