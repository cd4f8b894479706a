import type { SFTPWrapper } from 'ssh2';
import { registerDirectoryRequests } from './directory-requests';
import { registerFileRequests } from './file-requests';
import { registerPathRequests } from './path-requests';
import { type SessionContext, SftpSession } from './sftp-session-state';

/**
 * One SFTP session of one account: answers the protocol requests real clients send, on the
 * account's jailed folder, within the configured limits. Every file access goes through the jail.
 * The shared state is in sftp-session-state.ts; the requests in file-, directory- and path-requests.ts.
 */

export type { SessionContext } from './sftp-session-state';

export interface ServedSession {
  /** Ends the session; resolves once every file it had open is closed and its quota settled. */
  stop(): Promise<void>;
}

export function serveSftp(sftp: SFTPWrapper, ctx: SessionContext): ServedSession {
  const session = new SftpSession(sftp, ctx);
  registerFileRequests(session);
  registerDirectoryRequests(session);
  registerPathRequests(session);
  sftp.on('end', () => {
    void session.shutdown();
    // The client sent EOF (its batch is done): close our side too, or it waits for us forever.
    sftp.end();
  });
  sftp.on('close', () => void session.shutdown());
  return { stop: () => session.shutdown() };
}
