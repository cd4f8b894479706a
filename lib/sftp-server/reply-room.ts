import type { SFTPWrapper } from 'ssh2';

/**
 * Back-pressure on a session's READ replies. READs wait here until their data fits beside the
 * replies ssh2 still holds and the reads already under way, so a client that stops opening its SSH
 * window cannot make the server buffer files.
 */

const REPLY_ROOM_CHECK_MS = 20;

/**
 * Bytes of replies ssh2 holds for this channel because the client's SSH window is shut. ssh2 takes
 * every reply at once and keeps what it cannot send in this array; it tells nothing when it drains.
 */
const queuedReplyBytes = (sftp: SFTPWrapper): number => {
  const queue = (sftp as unknown as { _buffer?: Buffer[] })._buffer ?? [];
  let bytes = 0;
  for (const payload of queue) bytes += payload.length;
  return bytes;
};

export class ReplyRoom {
  private readonly waiting: Array<{ bytes: number; start: () => void }> = [];
  private reserved = 0;
  private check: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly maxQueuedBytes: number,
  ) {}

  /** Resolves once a reply of `bytes` may be prepared; call `sent` with the same bytes after it. */
  wait(bytes: number): Promise<void> {
    return new Promise((start) => {
      this.waiting.push({ bytes, start });
      this.startReads();
    });
  }

  sent(bytes: number): void {
    this.reserved -= bytes;
    this.startReads();
  }

  /** The session is over: every waiting READ goes (and gives up on seeing the session ended). */
  end(): void {
    this.ended = true;
    if (this.check) clearTimeout(this.check);
    this.startReads();
  }

  private startReads(): void {
    while (this.waiting.length > 0) {
      const held = this.reserved + queuedReplyBytes(this.sftp);
      const next = this.waiting[0];
      // With nothing held one read always goes, whatever its size.
      if (!this.ended && held > 0 && held + next.bytes > this.maxQueuedBytes) break;
      this.waiting.shift();
      this.reserved += next.bytes;
      next.start();
    }
    // ssh2 does not say when the client opens its window again: look again shortly.
    if (this.waiting.length > 0 && !this.check) {
      this.check = setTimeout(() => {
        this.check = undefined;
        this.startReads();
      }, REPLY_ROOM_CHECK_MS);
      this.check.unref();
    }
  }
}
