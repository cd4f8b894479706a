import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Per-account live state shared by that account's concurrent sessions: how many are open (for the
 * session cap), how many bytes its folder holds (for the quota) and how many files and folders it
 * holds (for the entry limit). Usage is measured by walking the folder when the first session opens,
 * then kept up to date by the sessions and by the server's own changes (`_auto.csv` moves); it is
 * measured again once the last session has closed all its files and no server change is under way,
 * so drift cannot accumulate.
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
  /** Called when a server change ends, so the registry can drop a state no session uses any more. */
  onIdle?: () => void;
  private used = 0;
  private entryCount = 0;
  private serverChanges = 0;
  private measured: Promise<void> | undefined;
  private readonly openFiles = new Map<string, OpenFile>();
  private mutations: Promise<unknown> = Promise.resolve();

  constructor(
    readonly username: string,
    readonly root: string,
  ) {}

  async ready(): Promise<void> {
    this.measured ??= folderUsage(this.root).then(({ bytes, entries }) => {
      this.used = bytes;
      this.entryCount = entries;
    });
    await this.measured;
  }

  get usedBytes(): number {
    return this.used;
  }

  get entries(): number {
    return this.entryCount;
  }

  /** No session uses this state and the server is not changing the folder: it may be dropped. */
  get idle(): boolean {
    return this.sessions <= 0 && this.serverChanges === 0;
  }

  /** Claims one file or folder about to be created; false (nothing claimed) when at `limit`. */
  claimEntry(limit: number): boolean {
    if (this.entryCount >= limit) return false;
    this.entryCount++;
    return true;
  }

  /** The server itself created a file or folder: counted, never refused (it only moves uploads). */
  entryAdded(): void {
    this.entryCount++;
  }

  /** A file or folder went away, or a claimed one was not created after all. */
  entryRemoved(): void {
    this.entryCount = Math.max(0, this.entryCount - 1);
  }

  /**
   * Runs the server's own change to the folder inside `exclusive`. Counted from the call on, before
   * `work` waits for anything, so the registry keeps this state even if the session that caused the
   * change ends meanwhile: a next session then finds the count kept, rather than measuring the folder
   * while the change is half done.
   */
  async serverChange<T>(work: () => Promise<T>): Promise<T> {
    this.serverChanges++;
    try {
      return await this.exclusive(work);
    } finally {
      this.serverChanges--;
      this.onIdle?.();
    }
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

/**
 * Sum of regular files' sizes under `dir`, and how many entries of any kind it holds below it, one
 * directory at a time (memory bounded by one listing).
 */
export async function folderUsage(dir: string): Promise<{ bytes: number; entries: number }> {
  let total = 0;
  let entries = 0;
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
      entries++;
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
  return { bytes: total, entries };
}

export class AccountRegistry {
  private readonly accounts = new Map<string, AccountUsage>();

  constructor(private readonly maxSessions: number) {}

  /** The account's state with one more session counted, or undefined when it is at its cap. */
  acquire(username: string, root: string): AccountUsage | undefined {
    let state = this.accounts.get(username);
    if (!state) {
      const created = new AccountUsage(username, root);
      created.onIdle = () => this.dropIfIdle(created);
      this.accounts.set(username, created);
      state = created;
    }
    if (state.sessions >= this.maxSessions) return undefined;
    state.sessions++;
    return state;
  }

  release(state: AccountUsage): void {
    state.sessions--;
    this.dropIfIdle(state);
  }

  private dropIfIdle(state: AccountUsage): void {
    if (state.idle && this.accounts.get(state.username) === state) this.accounts.delete(state.username);
  }
}
