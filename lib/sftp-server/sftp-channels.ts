import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AcceptSftpConnection, Connection, RejectConnection } from 'ssh2';
import { AccountRegistry, type AccountUsage } from './account-usage';
import { Jail } from './jail-path';
import type { SftpLimits } from './sftp-config';
import type { SftpLoginAccount } from './sftp-accounts.repository';
import { serveSftp } from './sftp-session';
import type { UploadCompletion } from './upload-completion';
import { UPLOAD_DIR } from './upload-rules';

/**
 * The SFTP channels of logged-in connections: a few per account at once, each served on the
 * account's folder (`<root>/<username>/`, with its `/upload`) and sharing the account's usage.
 */
export class SftpChannels {
  private readonly registry: AccountRegistry;

  constructor(private readonly opts: { root: string; config: SftpLimits; completion: UploadCompletion }) {
    this.registry = new AccountRegistry(opts.config.maxSessionsPerAccount);
  }

  /** A logged-in client asks for the SFTP subsystem. `touch` marks the connection active. */
  open(
    client: Connection,
    account: SftpLoginAccount,
    log: Logger,
    touch: () => void,
    acceptSftp: AcceptSftpConnection,
    rejectSftp: RejectConnection,
  ): void {
    const { config, completion } = this.opts;
    const { registry } = this;
    const usage = registry.acquire(account.username, this.accountDir(account.username));
    if (!usage) {
      log.warn(
        { limit: config.maxSessionsPerAccount },
        'sftp session refused: too many sessions for this account (SFTP_MAX_SESSIONS_PER_ACCOUNT)',
      );
      return void rejectSftp();
    }
    // Accept at once: the client's INIT follows immediately and would be lost on a channel not yet accepted.
    const sftp = acceptSftp();
    const prepare = usage.ready().then(async () => {
      const jail = await this.prepareFolder(account.username, usage);
      return { districtId: account.districtId, username: account.username, jail, usage };
    });
    prepare.catch((err: unknown) => {
      log.error({ err }, 'sftp session could not start');
      sftp.end();
    });
    const served = serveSftp(sftp, { prepare, limits: config, log, completion, touch });
    // The account's usage is dropped (and measured afresh by its next session) only once this
    // session's files are closed and their quota settled.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      void served.stop().then(() => registry.release(usage));
    };
    sftp.on('close', release);
    sftp.on('end', release);
    client.once('close', release);
  }

  private accountDir(username: string): string {
    return path.join(this.opts.root, username);
  }

  /**
   * Runs after the account's usage is measured: `/upload` is made again if the district removed it,
   * and counted as the entry it is, so removing and recreating it cannot wear the count down.
   */
  private async prepareFolder(username: string, usage: AccountUsage): Promise<Jail> {
    const dir = this.accountDir(username);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await usage.serverChange(async () => {
      try {
        await fs.mkdir(path.join(dir, UPLOAD_DIR), { mode: 0o700 });
        usage.entryAdded();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    });
    return await Jail.open(dir);
  }
}
