import type net from 'node:net';
import type { Logger } from 'pino';
import type { Server } from 'ssh2';

/**
 * TCP connections that have not logged in yet: each client address may hold only a few, and each
 * must log in within the grace period. Counted from accept, before SSH starts, so a flood of
 * half-open handshakes is refused before it costs any key exchange.
 */
export class PreLoginConnections {
  /** Per client address, TCP connections not logged in yet. */
  private readonly notLoggedIn = new Map<string, number>();
  /** By `address|port`: marks that connection as logged in, for the count above. */
  private readonly markLoggedIn = new Map<string, () => void>();
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly limits: { maxUnauthenticatedPerAddress: number; loginGraceMs: number },
    private readonly log: Logger,
  ) {}

  /** Every TCP connection starts here: the per-address cap and the login deadline apply before SSH does. */
  admit(socket: net.Socket, ssh: Server): void {
    const { log, limits } = this;
    const address = socket.remoteAddress ?? '';
    const waiting = this.notLoggedIn.get(address) ?? 0;
    if (waiting >= limits.maxUnauthenticatedPerAddress) {
      log.warn(
        { client: address, limit: limits.maxUnauthenticatedPerAddress },
        'connection refused: too many connections from this address not logged in (SFTP_MAX_UNAUTHENTICATED_PER_ADDRESS)',
      );
      socket.destroy();
      return;
    }
    this.notLoggedIn.set(address, waiting + 1);
    this.sockets.add(socket);
    const id = `${address}|${socket.remotePort}`;
    const deadline = setTimeout(() => {
      log.info({ client: address }, 'connection closed: no login in time');
      socket.destroy();
    }, limits.loginGraceMs);
    deadline.unref();
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      clearTimeout(deadline);
      this.sockets.delete(socket);
      this.markLoggedIn.delete(id);
      const left = (this.notLoggedIn.get(address) ?? 1) - 1;
      if (left > 0) this.notLoggedIn.set(address, left);
      else this.notLoggedIn.delete(address);
    };
    this.markLoggedIn.set(id, uncount);
    socket.once('close', uncount);
    ssh.injectSocket(socket);
  }

  /** The connection from `address:port` logged in: it no longer counts, and its deadline is off. */
  loggedIn(address: string, port: number): void {
    this.markLoggedIn.get(`${address}|${port}`)?.();
  }

  /** Closes every connection still not logged in (server shutdown). */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}
