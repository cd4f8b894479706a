import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Per-account live state shared by that account's concurrent sessions: how many are open (for the
 * session cap) and how many bytes its folder holds (for the quota). Usage is measured by walking
 * the folder when the first session opens, then kept up to date by the sessions' writes and
 * removals; it is measured again after the last session closes, so drift cannot accumulate.
 */

export class AccountUsage {
  sessions = 0;
  private used = 0;
  private measured: Promise<void> | undefined;

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
}

/** Sum of regular files' sizes under `dir`, one directory at a time (memory bounded by one listing). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let handle;
    try {
      handle = await fs.opendir(current);
    } catch {
      continue;
    }
    for await (const entry of handle) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) {
        try {
          total += (await fs.lstat(full)).size;
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
