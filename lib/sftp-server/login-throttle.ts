/**
 * Failed-login lockout per username and client address: after `maxFailures` failures within
 * `windowMs`, that pair is refused for `lockoutMs` even with the right password. Keyed on the pair
 * so an attacker elsewhere cannot lock a district's exporter out. In memory: a restart forgets it.
 */

interface Entry {
  failures: number[];
  lockedUntil: number;
}

const MAX_ENTRIES = 100_000;

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly lockoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private key(username: string, address: string): string {
    return `${username}\u0000${address}`;
  }

  /** Milliseconds left in the lockout, or 0. */
  lockedFor(username: string, address: string): number {
    const entry = this.entries.get(this.key(username, address));
    if (!entry) return 0;
    return Math.max(0, entry.lockedUntil - this.now());
  }

  /** Records a failure; returns true when this failure starts a lockout. */
  recordFailure(username: string, address: string): boolean {
    const key = this.key(username, address);
    const now = this.now();
    const entry = this.entries.get(key) ?? { failures: [], lockedUntil: 0 };
    entry.failures = entry.failures.filter((t) => now - t < this.windowMs);
    entry.failures.push(now);
    this.entries.delete(key);
    this.entries.set(key, entry); // re-insert: Map order doubles as least-recently-failed first
    let locked = false;
    if (entry.failures.length >= this.maxFailures && entry.lockedUntil <= now) {
      entry.lockedUntil = now + this.lockoutMs;
      entry.failures = [];
      locked = true;
    }
    this.prune(now);
    return locked;
  }

  recordSuccess(username: string, address: string): void {
    this.entries.delete(this.key(username, address));
  }

  private prune(now: number): void {
    // Bound memory under a spray of usernames: forget the oldest entries first.
    while (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    if (this.entries.size % 1000 === 0) {
      for (const [key, entry] of this.entries) {
        const last = entry.failures[entry.failures.length - 1] ?? 0;
        if (entry.lockedUntil <= now && now - last >= this.windowMs) this.entries.delete(key);
      }
    }
  }
}
