import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Maps the paths a client sends onto one account's folder, which the client sees as `/`.
 * Lexical rules (no NUL, backslash, control characters or undecodable bytes; `..` cannot climb
 * above `/`) come first; then symlinks met on the way are resolved and must stay inside the folder.
 */

export class PathRejectedError extends Error {
  override readonly name = 'PathRejectedError';
}

const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;

function hasForbiddenCharacter(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c /* backslash */ || c === 0xfffd) return true;
  }
  return false;
}

/**
 * The canonical virtual path (`/a/b`) for what a client sent, relative paths taken from `/`.
 * Throws PathRejectedError for input that no honest client sends.
 */
export function normalizeVirtualPath(input: string): string {
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) throw new PathRejectedError('Path is too long.');
  // U+FFFD is what invalid or overlong UTF-8 decodes to: refuse rather than guess the name.
  if (hasForbiddenCharacter(input)) {
    throw new PathRejectedError(
      'Path contains a character that is not allowed (control character, backslash or invalid UTF-8).',
    );
  }
  // posix.resolve from '/' folds `.` and `..` and clamps `..` at the top, like a chroot.
  const normalized = path.posix.resolve('/', input === '' ? '.' : input);
  for (const part of normalized.split('/')) {
    if (Buffer.byteLength(part) > MAX_NAME_BYTES)
      throw new PathRejectedError('A file or folder name is too long.');
  }
  return normalized;
}

export class Jail {
  private constructor(readonly root: string) {}

  /** `root` must exist; it is canonicalised so later containment checks compare like with like. */
  static async open(root: string): Promise<Jail> {
    return new Jail(await fs.realpath(root));
  }

  private inside(real: string): boolean {
    return real === this.root || real.startsWith(this.root + path.sep);
  }

  private assertInside(real: string): void {
    if (!this.inside(real)) throw new PathRejectedError('That path leads outside your folder.');
  }

  /**
   * The real path for a virtual one. The parent folder must exist (ENOENT otherwise). With
   * `followFinal`, a final symlink is followed but only to a target inside the folder; without,
   * the final component is returned as is (for lstat, remove, rename, create with O_NOFOLLOW).
   */
  async resolve(virtualPath: string, followFinal: boolean): Promise<string> {
    if (virtualPath === '/') return this.root;
    const parent = await fs.realpath(path.join(this.root, path.posix.dirname(virtualPath)));
    this.assertInside(parent);
    const full = path.join(parent, path.posix.basename(virtualPath));
    if (!followFinal) return full;
    let isLink = false;
    try {
      isLink = (await fs.lstat(full)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return full;
      throw err;
    }
    if (!isLink) return full;
    let target: string;
    try {
      target = await fs.realpath(full);
    } catch {
      throw new PathRejectedError('That path is a broken link.');
    }
    this.assertInside(target);
    return target;
  }
}
