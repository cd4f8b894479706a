import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { type AuthContext, type PasswordAuthContext, type PublicKeyAuthContext, utils } from 'ssh2';
import { decoyHash, verifyPassword } from '../security/password';
import { LoginThrottle } from './login-throttle';
import { PasswordCheckGate } from './password-check-gate';
import type { SftpLimits } from './sftp-config';
import { type SftpLoginAccount, SftpAccountsRepository } from './sftp-accounts.repository';

/**
 * Logins to the hosted SFTP server: password or public key, bounded so guessing cannot starve the
 * districts' transfers. Failures lock out a username from an address and, for passwords, the address
 * itself; password checks run a few at a time server-wide.
 */

/** Same rule as districts.slug: anything else cannot be an account, so no query is made. */
const USERNAME = /^[a-z0-9][a-z0-9-]{1,62}$/;
const AUTH_METHODS: AuthContext['method'][] = ['publickey', 'password'];

/** One connection's authentication requests. */
export interface LoginAttempt {
  address: string;
  log: Logger;
  /** The client has gone: no password check is spent on it. */
  isClosed(): boolean;
  /** Called with the account just before the login is accepted. */
  loggedIn(account: SftpLoginAccount): void;
}

export class SftpLogin {
  private readonly accounts: SftpAccountsRepository;
  private readonly userThrottle: LoginThrottle;
  private readonly addressThrottle: LoginThrottle;
  private readonly passwordChecks: PasswordCheckGate;

  constructor(
    pool: Pool,
    private readonly config: SftpLimits,
  ) {
    this.accounts = new SftpAccountsRepository(pool);
    this.userThrottle = new LoginThrottle(
      config.maxFailedLogins,
      config.failedLoginWindowMs,
      config.lockoutMs,
    );
    this.addressThrottle = new LoginThrottle(
      config.maxFailedLoginsPerAddress,
      config.failedLoginWindowMs,
      config.lockoutMs,
    );
    this.passwordChecks = new PasswordCheckGate(config.maxPasswordChecks, config.maxQueuedPasswordChecks);
  }

  /** Answers one authentication request (accept or reject); never throws. */
  answer(ctx: AuthContext, attempt: LoginAttempt): void {
    this.authenticate(ctx, attempt).catch((err: unknown) => {
      attempt.log.error({ err, username: ctx.username }, 'login check failed');
      ctx.reject(AUTH_METHODS);
    });
  }

  private async authenticate(ctx: AuthContext, attempt: LoginAttempt): Promise<void> {
    const { address, log } = attempt;
    const username = ctx.username;
    if (ctx.method !== 'password' && ctx.method !== 'publickey') {
      ctx.reject(AUTH_METHODS);
      return;
    }
    const userKey = `${username}\u0000${address}`;
    const userLockedMs = this.userThrottle.lockedFor(userKey);
    // An address locked out for guessing keeps its key logins: they cost no scrypt and cannot be guessed.
    const addressLockedMs = ctx.method === 'password' ? this.addressThrottle.lockedFor(address) : 0;
    if (userLockedMs > 0 || addressLockedMs > 0) {
      log.warn(
        {
          username,
          method: ctx.method,
          lockedSeconds: Math.ceil(Math.max(userLockedMs, addressLockedMs) / 1000),
          lockedFor: userLockedMs > 0 ? 'username and address' : 'address',
        },
        'login refused: locked out',
      );
      ctx.reject(AUTH_METHODS);
      return;
    }
    const account = USERNAME.test(username) ? await this.accounts.findByUsername(username) : undefined;
    const failed = (reason: string): void => {
      const lockedNow = this.userThrottle.recordFailure(userKey);
      const addressLockedNow = ctx.method === 'password' && this.addressThrottle.recordFailure(address);
      log.warn({ username, method: ctx.method, reason, lockedNow, addressLockedNow }, 'login failed');
      ctx.reject(AUTH_METHODS);
    };
    const accepted = (): void => {
      this.userThrottle.recordSuccess(userKey);
      attempt.loggedIn(account as SftpLoginAccount); // before accept(): ssh2 emits 'ready' from inside it
      ctx.accept();
    };
    if (ctx.method === 'password') await this.checkPassword(ctx, attempt, account, failed, accepted);
    else this.checkKey(ctx, log, account, failed, accepted);
  }

  private async checkPassword(
    ctx: PasswordAuthContext,
    attempt: LoginAttempt,
    account: SftpLoginAccount | undefined,
    failed: (reason: string) => void,
    accepted: () => void,
  ): Promise<void> {
    const password = ctx.password;
    const hash = account?.passwordHash;
    let checked = false;
    const verdict = await this.passwordChecks.run(async () => {
      // A client that left while waiting for its turn gets no scrypt spent on it.
      if (attempt.isClosed()) return false;
      checked = true;
      if (hash) return await verifyPassword(password, hash);
      await verifyPassword(password, await decoyHash()); // same cost as a real check
      return false;
    });
    if (verdict !== 'busy' && !checked) return;
    if (verdict === 'busy') {
      attempt.log.warn(
        { username: ctx.username, method: ctx.method, limit: this.config.maxPasswordChecks },
        'login refused: too many password checks in progress (SFTP_MAX_PASSWORD_CHECKS)',
      );
      ctx.reject(AUTH_METHODS);
      return;
    }
    if (!verdict)
      return failed(!account ? 'unknown username' : !hash ? 'account has no password' : 'wrong password');
    accepted();
  }

  private checkKey(
    ctx: PublicKeyAuthContext,
    log: Logger,
    account: SftpLoginAccount | undefined,
    failed: (reason: string) => void,
    accepted: () => void,
  ): void {
    const presented = ctx.key.data;
    const match = account?.publicKeys.find((k) =>
      Buffer.from(k.publicKey.split(' ')[1] ?? '', 'base64').equals(presented),
    );
    if (!match) {
      // Clients offer every key they hold; an unlisted one is a normal probe, not an attack.
      if (ctx.signature) return failed('unknown key');
      ctx.reject(AUTH_METHODS);
      return;
    }
    if (!ctx.signature) {
      ctx.accept(); // "would this key do?" — the client signs next
      return;
    }
    const parsed = utils.parseKey(match.publicKey);
    if (parsed instanceof Error || Array.isArray(parsed)) return failed('stored key unreadable');
    // ssh2 does not verify the signature itself: without this check anyone knowing the public key could log in.
    if (parsed.verify(ctx.blob as Buffer, ctx.signature, ctx.hashAlgo) !== true)
      return failed('bad signature');
    log.info({ username: ctx.username, key: match.fingerprint }, 'public key accepted');
    accepted();
  }
}
