/**
 * Failed-login lockout: after `maxFailures` failures for one key within `windowMs`, that key is
 * refused for `lockoutMs` even with the right password. The server keeps one per username and client
 * address (so an attacker elsewhere cannot lock a district's exporter out) and one per client address
 * (so guessing across many usernames is stopped too). In memory: a restart forgets it.
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

  /** Milliseconds left in the lockout, or 0. */
  lockedFor(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    return Math.max(0, entry.lockedUntil - this.now());
  }

  /** Records a failure; returns true when this failure starts a lockout. */
  recordFailure(key: string): boolean {
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

  recordSuccess(key: string): void {
    this.entries.delete(key);
  }

  private prune(now: number): void {
    // Bound memory under a spray of usernames or addresses: forget the oldest entries first.
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
