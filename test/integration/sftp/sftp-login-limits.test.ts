import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ssh2';
import {
  type District,
  type Harness,
  connectSsh2,
  loginError,
  makeKey,
  p,
  startHarness,
  useSftpServer,
} from './sftp-harness';

/**
 * A password login that connects and stops just before sending its password, so a test can send
 * many at the same moment. Resolves `outcome` with 'logged in' or the client's error.
 */
function heldPasswordLogin(port: number, username: string, password: string) {
  const client = new Client();
  let send!: () => void;
  let reachedPassword!: () => void;
  const ready = new Promise<void>((resolve) => (reachedPassword = resolve));
  const outcome = new Promise<string>((resolve) => {
    client.once('ready', () => resolve('logged in'));
    client.once('error', (err) => resolve(err.message));
    let tried = false;
    client.connect({
      host: '127.0.0.1',
      port,
      username,
      readyTimeout: 30_000,
      authHandler: (_methodsLeft: unknown, _partial: unknown, next: (method: unknown) => void) => {
        if (tried) return next(false);
        tried = true;
        send = () => next({ type: 'password', username, password });
        reachedPassword();
      },
    } as never);
  });
  return { ready, outcome, go: () => send(), end: () => client.end() };
}

const logLines = (h: Harness): string => fs.readFileSync(h.logFile, 'utf8');

describe('hosted SFTP: password checks run a few at a time', () => {
  const h = useSftpServer({ maxPasswordChecks: 1, maxQueuedPasswordChecks: 2 });
  let district: District;
  let password: string;

  before(async () => {
    ({ district, password } = await h.addPasswordDistrict('ash-meadow'));
  });

  it('lets password logins beyond SFTP_MAX_PASSWORD_CHECKS wait their turn, and turns away the rest', async () => {
    const sendAll = async (count: number) => {
      const logins = Array.from({ length: count }, () => heldPasswordLogin(h.port, district.slug, password));
      await Promise.all(logins.map((login) => login.ready));
      for (const login of logins) login.go();
      const outcomes = await Promise.all(logins.map((login) => login.outcome));
      for (const login of logins) login.end();
      return outcomes;
    };

    // One check runs and two wait: all three log in.
    assert.deepEqual(await sendAll(3), ['logged in', 'logged in', 'logged in']);

    const outcomes = await sendAll(8);
    const loggedIn = outcomes.filter((o) => o === 'logged in').length;
    assert.ok(loggedIn >= 3, `only ${loggedIn} of 8 logged in: ${outcomes.join(', ')}`);
    assert.ok(loggedIn < 8, 'every attempt was checked at once');
    for (const o of outcomes) if (o !== 'logged in') assert.match(o, /authentication methods failed/i);
    assert.match(
      logLines(h),
      /login refused: too many password checks in progress \(SFTP_MAX_PASSWORD_CHECKS\)/,
    );

    // Being turned away is not a failed login: no lockout follows.
    const session = await connectSsh2({ port: h.port, username: district.slug, password });
    assert.equal(await p.realpath(session.sftp, '.'), '/');
    session.end();
  });
});

describe('hosted SFTP: failed logins are counted per client address', () => {
  const h = useSftpServer({ maxFailedLogins: 10, maxFailedLoginsPerAddress: 4 });
  let district: District;

  before(async () => {
    district = await h.addDistrict('oak-bluff');
  });

  it('refuses password logins from an address after SFTP_MAX_FAILED_LOGINS_PER_ADDRESS failures across usernames, and keeps its key logins', async () => {
    const password = await h.accounts.regeneratePassword(district.id, district.slug);
    const key = makeKey();
    await h.accounts.addPublicKey(district.id, key.publicKey);
    for (const username of ['guess-one', 'guess-two', 'guess-three', 'guess-four']) {
      await loginError({ port: h.port, username, password: 'Summer2026!' });
    }
    // A fifth username, and even the right password, are refused from this address now.
    const err = await loginError({ port: h.port, username: district.slug, password });
    assert.match(err.message, /authentication methods failed/i);
    assert.match(logLines(h), /"lockedFor":"address".*"msg":"login refused: locked out"/);

    const session = await connectSsh2({
      port: h.port,
      username: district.slug,
      privateKey: fs.readFileSync(key.privateKeyPath),
    });
    assert.equal(await p.realpath(session.sftp, '.'), '/');
    session.end();
    fs.rmSync(key.dir, { recursive: true, force: true });
  });
});

describe('hosted SFTP: connections that have not logged in are capped per address', () => {
  let h: Harness;
  let district: District;
  let password: string;
  const sockets: net.Socket[] = [];

  /** A TCP connection that says nothing, as a scanner or a stalled client would. */
  const silentConnection = () =>
    new Promise<{ socket: net.Socket; closed: Promise<void> }>((resolve, reject) => {
      const socket = net.connect(h.port, '127.0.0.1');
      sockets.push(socket);
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      socket.on('data', () => undefined);
      socket.once('error', () => undefined);
      socket.once('connect', () => resolve({ socket, closed }));
      socket.once('error', reject);
    });
  const closedWithin = (closed: Promise<void>, ms: number) =>
    Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  before(async () => {
    h = await startHarness({ maxUnauthenticatedPerAddress: 3 });
    ({ district, password } = await h.addPasswordDistrict('willow-bend'));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await h.close();
  });

  it('closes connections beyond SFTP_MAX_UNAUTHENTICATED_PER_ADDRESS at once; logged-in sessions do not count', async () => {
    const working = await connectSsh2({ port: h.port, username: district.slug, password });
    const held = [await silentConnection(), await silentConnection(), await silentConnection()];
    const extra = await silentConnection();
    assert.equal(await closedWithin(extra.closed, 5000), true, 'the fourth silent connection stays open');
    await assert.rejects(connectSsh2({ port: h.port, username: district.slug, password }));
    for (const { closed } of held) assert.equal(await closedWithin(closed, 0), false);
    assert.match(
      logLines(h),
      /connection refused: too many connections from this address not logged in \(SFTP_MAX_UNAUTHENTICATED_PER_ADDRESS\)/,
    );
    // The session that logged in before is unaffected, and room comes back as connections go.
    assert.equal(await p.realpath(working.sftp, '.'), '/');
    working.end();
    for (const { socket, closed } of held) {
      socket.destroy();
      await closed;
    }
    // The server sees those connections go a moment after the client does.
    let session: Awaited<ReturnType<typeof connectSsh2>> | undefined;
    for (let attempt = 0; !session && attempt < 20; attempt++) {
      session = await connectSsh2({ port: h.port, username: district.slug, password }).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    assert.ok(session, 'no login possible after the silent connections closed');
    assert.equal(await p.realpath(session.sftp, '.'), '/');
    session.end();
  });
});
