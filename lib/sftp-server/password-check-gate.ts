/**
 * Bounds the password checks running at once, server-wide. Each is ~100 ms of scrypt on libuv's
 * thread pool, which every session's file I/O uses too: unbounded, a client guessing passwords
 * could stall everyone's transfers. A few attempts wait their turn; beyond that an attempt is turned
 * away without a check (the client sees a failed login and may try again).
 */
export class PasswordCheckGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly maxRunning: number,
    private readonly maxWaiting: number,
  ) {}

  /** The check's answer once a slot is free, or 'busy' (check not run) when too many already wait. */
  async run(check: () => Promise<boolean>): Promise<boolean | 'busy'> {
    if (this.running < this.maxRunning) this.running++;
    else if (this.waiting.length < this.maxWaiting)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    else return 'busy';
    try {
      return await check();
    } finally {
      // The slot passes straight to the next in line, so `running` never overshoots.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
