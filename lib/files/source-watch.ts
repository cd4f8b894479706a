import { RetryableFailureType } from '../contracts/sync';
import { DomainError } from '../errors/domain-error';

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
export class SourceStalledError extends DomainError {
  constructor(message: string) {
    super(RetryableFailureType.SourceStalled, message);
  }
}

export type ThroughputVerdict =
  | { kind: 'stalled'; idleMs: number }
  | { kind: 'slow'; bytesPerSecond: number }
  | { kind: 'late'; bytesPerSecond: number; projectedMs: number };

/**
 * Why the download is too slow, if it is: no byte for the stall timeout, under the minimum rate,
 * or (given what is left) at the recent rate not done before the attempt's deadline. Pure so the
 * rule is unit-tested without a clock.
 */
export function throughputVerdict(
  samples: ReadonlyArray<{ atMs: number; bytes: number }>,
  nowMs: number,
  limits: Pick<SourceLimits, 'stallMs' | 'minBytesPerSecond' | 'windowMs'>,
  finish?: { size: number; deadlineMs: number },
): ThroughputVerdict | undefined {
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
  if (bytesPerSecond < limits.minBytesPerSecond) return { kind: 'slow', bytesPerSecond };
  if (!finish) return undefined;
  const projectedMs = ((finish.size - last.bytes) / bytesPerSecond) * 1000;
  return nowMs + projectedMs > finish.deadlineMs ? { kind: 'late', bytesPerSecond, projectedMs } : undefined;
}

const duration = (ms: number) =>
  ms < 120_000 ? `${Math.ceil(ms / 1000)} s` : `${Math.ceil(ms / 60_000)} min`;

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
    /** When the attempt is cut off (the fetch activity's start-to-close timeout), if known. */
    private readonly attempt?: { deadlineMs: number; limitMs: number },
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
      const verdict = throughputVerdict(
        samples,
        now,
        this.limits,
        this.attempt && { size, deadlineMs: this.attempt.deadlineMs },
      );
      if (!verdict) return;
      this.abort(
        new SourceStalledError(
          this.tooSlow(name, `${samples[samples.length - 1].bytes} of ${size} bytes`, verdict),
        ),
      );
    };
    tick();
    const timer = setInterval(tick, tickMs);
    const stop = () => clearInterval(timer);
    this.signal.addEventListener('abort', stop, { once: true });
    return stop;
  }

  private tooSlow(name: string, copied: string, verdict: ThroughputVerdict): string {
    switch (verdict.kind) {
      case 'stalled':
        return `The SFTP server at ${this.server} stopped sending ${name}: no data for ${round(verdict.idleMs)} after ${copied} (FETCH_STALL_SECONDS). rostersync retries with backoff; if it keeps happening, ask the district to check its server and network.`;
      case 'slow':
        return `The SFTP server at ${this.server} sent ${name} at ${Math.round(verdict.bytesPerSecond)} bytes/s over the last ${round(this.limits.windowMs)}, under the minimum of ${this.limits.minBytesPerSecond} bytes/s (FETCH_MIN_BYTES_PER_SECOND over FETCH_THROUGHPUT_WINDOW_SECONDS); ${copied} were copied. rostersync retries with backoff; if it keeps happening, ask the district to check its server's bandwidth.`;
      case 'late':
        return `The SFTP server at ${this.server} sends ${name} at ${Math.round(verdict.bytesPerSecond)} bytes/s: the rest would take about ${duration(verdict.projectedMs)}, past the ${duration(this.attempt?.limitMs ?? 0)} a fetch attempt may take; ${copied} were copied, and the attempt stopped now rather than at its limit. rostersync retries with backoff; if it keeps happening, ask the district to check its server's bandwidth.`;
    }
  }

  /**
   * Runs `work` (many requests) within `budgetMs` in all: each request has the operation timeout,
   * and this bounds their sum, so a server answering just under it each time cannot go on for ever.
   */
  async within<T>(what: string, budgetMs: number, setting: string, work: () => Promise<T>): Promise<T> {
    const timer = setTimeout(
      () =>
        this.abort(
          new SourceStalledError(
            `The SFTP server at ${this.server}: ${what} took longer than ${round(budgetMs)} in all (${setting}). rostersync retries with backoff; if it keeps happening, ask the district to check its server, or to keep fewer files in the folder.`,
          ),
        ),
      budgetMs,
    );
    try {
      return await work();
    } finally {
      clearTimeout(timer);
    }
  }

  dispose(): void {
    this.cleanup();
  }
}
