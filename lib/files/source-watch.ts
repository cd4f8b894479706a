/**
 * Bounds the time a district's own SFTP server can hold a worker: every request gets an answer
 * within the operation timeout, and a download must keep moving (no gap without bytes longer than
 * the stall timeout) and keep a minimum throughput over a sliding window. When any of these fails,
 * or the caller's signal aborts (activity cancelled), `signal` aborts: every pending request rejects
 * at once and the caller closes the connection.
 */

export interface SourceLimits {
  /** Longest wait for the answer to one request (handshake, SFTP session, listing, open, close). */
  operationMs: number;
  /** Longest gap without a byte while downloading. */
  stallMs: number;
  /** Least average throughput over `windowMs` while downloading. */
  minBytesPerSecond: number;
  windowMs: number;
}

/** A district's server stopped answering or sends too slowly: retryable, the next attempt may do better. */
export class SourceStalledError extends Error {
  readonly type = 'SourceStalled';
}

/** Why the download is too slow, if it is; pure so the rule is unit-tested without a clock. */
export function throughputVerdict(
  samples: ReadonlyArray<{ atMs: number; bytes: number }>,
  nowMs: number,
  limits: Pick<SourceLimits, 'stallMs' | 'minBytesPerSecond' | 'windowMs'>,
): { kind: 'stalled'; idleMs: number } | { kind: 'slow'; bytesPerSecond: number } | undefined {
  const last = samples[samples.length - 1];
  if (!last) return undefined;
  // The newest sample with a byte count below the current one marks the last progress.
  let progressAt = samples[0].atMs;
  for (let i = samples.length - 1; i > 0; i--) {
    if (samples[i].bytes > samples[i - 1].bytes) {
      progressAt = samples[i].atMs;
      break;
    }
  }
  if (nowMs - progressAt >= limits.stallMs) return { kind: 'stalled', idleMs: nowMs - progressAt };
  const windowStart = samples.find((s) => s.atMs >= nowMs - limits.windowMs);
  if (!windowStart || samples[0].atMs > nowMs - limits.windowMs) return undefined; // window not full yet
  const seconds = (nowMs - windowStart.atMs) / 1000;
  if (seconds <= 0) return undefined;
  const bytesPerSecond = (last.bytes - windowStart.bytes) / seconds;
  return bytesPerSecond < limits.minBytesPerSecond ? { kind: 'slow', bytesPerSecond } : undefined;
}

const round = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export class SourceWatch {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private readonly cleanup: () => void;
  private readonly pending = new Set<(err: unknown) => void>();

  constructor(
    readonly limits: SourceLimits,
    /** Names the server in messages, as the district configured it (host:port). */
    private readonly server: string,
    cancelled?: AbortSignal,
    /** Told of every answered request: progress, for a heartbeat. */
    private readonly onAnswer: () => void = () => undefined,
  ) {
    const onCancel = () => this.abort(cancelled?.reason ?? new Error('The fetch was cancelled.'));
    if (cancelled?.aborted) onCancel();
    cancelled?.addEventListener('abort', onCancel, { once: true });
    this.cleanup = () => cancelled?.removeEventListener('abort', onCancel);
  }

  abort(reason: unknown): void {
    if (this.signal.aborted) return;
    this.controller.abort(reason);
    for (const reject of this.pending) reject(reason);
    this.pending.clear();
  }

  /**
   * A promise for one callback-style call that also rejects when the watch aborts. Pending calls
   * are kept in a set, not as listeners on the signal, so a download of many reads adds none.
   */
  settle<T>(start: (resolve: (value: T) => void, reject: (err: unknown) => void) => void): Promise<T> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason as Error);
    return new Promise<T>((resolve, reject) => {
      const done = (finish: () => void) => {
        this.pending.delete(reject);
        finish();
      };
      this.pending.add(reject);
      start(
        (value) => done(() => resolve(value)),
        (err) => done(() => reject(err)),
      );
    });
  }

  /** Runs one request with the operation timeout; `what` says what was asked, for the message. */
  async request<T>(
    what: string,
    start: (resolve: (value: T) => void, reject: (err: unknown) => void) => void,
  ): Promise<T> {
    const timer = setTimeout(
      () =>
        this.abort(
          new SourceStalledError(
            `The SFTP server at ${this.server}: no answer to ${what} within ${round(this.limits.operationMs)} (FETCH_OPERATION_TIMEOUT_SECONDS). rostersync retries with backoff; if it keeps happening, ask the district to check its server.`,
          ),
        ),
      this.limits.operationMs,
    );
    try {
      const answer = await this.settle(start);
      this.onAnswer();
      return answer;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Watches a download of `name` of `size` bytes: `progress` is told the bytes copied so far;
   * a stall or a throughput under the minimum aborts the watch. Call the returned stop when done.
   */
  watchTransfer(name: string, size: number, progress: () => number): () => void {
    const samples: Array<{ atMs: number; bytes: number }> = [];
    // Often enough to fail within a fraction of the stall timeout, seldom enough to cost nothing.
    const tickMs = Math.max(50, Math.min(1000, this.limits.stallMs / 4));
    const maxSamples = Math.ceil(Math.max(this.limits.windowMs, this.limits.stallMs) / tickMs) + 2;
    const tick = () => {
      const now = Date.now();
      samples.push({ atMs: now, bytes: progress() });
      if (samples.length > maxSamples) samples.shift();
      const verdict = throughputVerdict(samples, now, this.limits);
      if (!verdict) return;
      const copied = `${samples[samples.length - 1].bytes} of ${size} bytes`;
      this.abort(
        new SourceStalledError(
          verdict.kind === 'stalled'
            ? `The SFTP server at ${this.server} stopped sending ${name}: no data for ${round(verdict.idleMs)} after ${copied} (FETCH_STALL_SECONDS). rostersync retries with backoff; if it keeps happening, ask the district to check its server and network.`
            : `The SFTP server at ${this.server} sent ${name} at ${Math.round(verdict.bytesPerSecond)} bytes/s over the last ${round(this.limits.windowMs)}, under the minimum of ${this.limits.minBytesPerSecond} bytes/s (FETCH_MIN_BYTES_PER_SECOND over FETCH_THROUGHPUT_WINDOW_SECONDS); ${copied} were copied. rostersync retries with backoff; if it keeps happening, ask the district to check its server's bandwidth.`,
        ),
      );
    };
    tick();
    const timer = setInterval(tick, tickMs);
    const stop = () => clearInterval(timer);
    this.signal.addEventListener('abort', stop, { once: true });
    return stop;
  }

  dispose(): void {
    this.cleanup();
  }
}
