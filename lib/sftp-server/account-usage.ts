import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Per-account live state shared by that account's concurrent sessions: how many are open (for the
 * session cap) and how many bytes its folder holds (for the quota). Usage is measured by walking
 * the folder when the first session opens, then kept up to date by the sessions; it is measured
 * again after the last session has closed all its files, so drift cannot accumulate.
 *
 * Every file some handle has open has one record (per inode, so renames, even the server's own
 * `_auto.csv` moves, do not detach it) holding the bytes charged for it. All handles on the file grow
 * that one record, so rewriting bytes already charged is free and writing past them is charged once,
 * whichever handle or session writes. A file removed or replaced while open keeps its charge until
 * its last handle closes, because only then does the disk give the space back.
 */

export interface OpenFile {
  readonly key: string;
  /** Bytes counted against the quota for this file: never less than what it holds on disk. */
  charged: number;
  handles: number;
  writers: number;
  unlinked: boolean;
}

/** Identity of a file's content, stable across renames. */
export const fileKey = (st: fs.Stats): string => `${st.dev}:${st.ino}`;

export class AccountUsage {
  sessions = 0;
  private used = 0;
  private measured: Promise<void> | undefined;
  private readonly openFiles = new Map<string, OpenFile>();
  private mutations: Promise<unknown> = Promise.resolve();

  constructor(
    readonly username: string,
    readonly root: string,
  ) {}

  async ready(): Promise<void> {
    this.measured ??= folderBytes(this.root).then((bytes) => {
      this.used = bytes;
    });
    await this.measured;
  }

  get usedBytes(): number {
    return this.used;
  }

  /**
   * Runs `work` while no other open, close, truncate, remove or rename of this account runs: what
   * it reads from the disk (a size, whether a file is open) stays true until it has acted on it.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.mutations.then(work);
    this.mutations = result.catch(() => undefined);
    return result;
  }

  /** Claims `bytes` of quota; false (and nothing claimed) when that would exceed `quota`. */
  claim(bytes: number, quota: number): boolean {
    if (bytes <= 0) return true;
    if (this.used + bytes > quota) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    if (bytes > 0) this.used = Math.max(0, this.used - bytes);
  }

  openFile(key: string): OpenFile | undefined {
    return this.openFiles.get(key);
  }

  /** Bytes charged for a file: its record's while open, else what it holds (`actualSize`). */
  charged(key: string, actualSize: number): number {
    return this.openFiles.get(key)?.charged ?? actualSize;
  }

  /** A handle opened the file (inside `exclusive`). */
  opened(key: string, actualSize: number, writer: boolean): OpenFile {
    let file = this.openFiles.get(key);
    if (!file) {
      file = { key, charged: actualSize, handles: 0, writers: 0, unlinked: false };
      this.openFiles.set(key, file);
    }
    file.handles++;
    if (writer) file.writers++;
    return file;
  }

  /** Charges a write reaching `end`; false (nothing claimed) when that would exceed `quota`. */
  grow(file: OpenFile, end: number, quota: number): boolean {
    if (end <= file.charged) return true;
    if (!this.claim(end - file.charged, quota)) return false;
    file.charged = end;
    return true;
  }

  /**
   * The file was truncated or extended to `size` (inside `exclusive`); false (nothing changed) when
   * growing it would exceed `quota`. Claim before extending and release after shrinking, so the
   * count never runs below the disk.
   */
  resized(key: string, actualSize: number, size: number, quota: number): boolean {
    const file = this.openFiles.get(key);
    const charged = file?.charged ?? actualSize;
    if (size > charged && !this.claim(size - charged, quota)) return false;
    this.release(charged - size);
    if (file) file.charged = size;
    return true;
  }

  /** The file's name went away (remove, or a rename over it), inside `exclusive`. */
  unlinked(key: string, actualSize: number): void {
    const file = this.openFiles.get(key);
    if (file) file.unlinked = true;
    else this.release(actualSize);
  }

  /**
   * A handle on the file closed (inside `exclusive`). The last one settles the file's charge to what
   * it holds (`actualSize`, measured just before), or frees it all if its name is gone.
   */
  closed(file: OpenFile, writer: boolean, actualSize: number | undefined): void {
    file.handles--;
    if (writer) file.writers--;
    if (file.handles > 0) return;
    this.openFiles.delete(file.key);
    if (file.unlinked) this.release(file.charged);
    else if (actualSize !== undefined) {
      if (actualSize > file.charged) this.used += actualSize - file.charged;
      else this.release(file.charged - actualSize);
    }
  }
}

/** Sum of regular files' sizes under `dir`, one directory at a time (memory bounded by one listing). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let handle;
    try {
      handle = await fsp.opendir(current);
    } catch {
      continue;
    }
    for await (const entry of handle) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) {
        try {
          total += (await fsp.lstat(full)).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total;
}

export class AccountRegistry {
  private readonly accounts = new Map<string, AccountUsage>();

  constructor(private readonly maxSessions: number) {}

  /** The account's state with one more session counted, or undefined when it is at its cap. */
  acquire(username: string, root: string): AccountUsage | undefined {
    let state = this.accounts.get(username);
    if (!state) {
      state = new AccountUsage(username, root);
      this.accounts.set(username, state);
    }
    if (state.sessions >= this.maxSessions) return undefined;
    state.sessions++;
    return state;
  }

  release(state: AccountUsage): void {
    state.sessions--;
    if (state.sessions <= 0 && this.accounts.get(state.username) === state)
      this.accounts.delete(state.username);
  }
}
