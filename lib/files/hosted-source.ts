import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DirEntry } from './pick-file';

const MAX_ENTRIES = 10_000;

/** Lists a district's hosted SFTP folder (root, /upload and its epoch folders), never following symlinks. */
export async function listHostedFolder(root: string): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  async function walk(rel: string, depth: number): Promise<void> {
    let dirents: fs.Dirent[];
    try {
      dirents = await fs.promises.readdir(path.join(root, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const d of dirents) {
      if (out.length >= MAX_ENTRIES) return;
      if (!d.isFile() && !d.isDirectory()) continue;
      const relPath = rel ? `${rel}/${d.name}` : d.name;
      const st = await fs.promises.lstat(path.join(root, relPath));
      out.push({ path: relPath, isDirectory: d.isDirectory(), size: st.size, mtimeMs: st.mtimeMs });
      if (d.isDirectory() && depth < 2 && (depth === 1 || d.name === 'upload'))
        await walk(relPath, depth + 1);
    }
  }
  await walk('', 0);
  return out;
}

function insideRoot(root: string, relPath: string): string {
  const full = path.resolve(root, relPath);
  if (!full.startsWith(path.resolve(root) + path.sep))
    throw new Error(`Path escapes the district folder: ${relPath}`);
  return full;
}

export function openHostedFile(root: string, relPath: string): Readable {
  return fs.createReadStream(insideRoot(root, relPath));
}

/** Size and mtime of a listed file now; undefined once it is gone. */
export async function statHostedFile(
  root: string,
  relPath: string,
): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const st = await fs.promises.lstat(insideRoot(root, relPath));
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
