import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

/**
 * Keeps each run's original file, byte for byte, so history can serve it and a replayed run reads
 * exactly what the first attempt read. A fileRef is a path relative to the store's root.
 */
export class ArtifactStore {
  constructor(readonly root: string) {}

  /** Resolves a fileRef, refusing anything that would leave the store. */
  resolve(fileRef: string): string {
    const full = path.resolve(this.root, fileRef);
    if (!full.startsWith(path.resolve(this.root) + path.sep))
      throw new Error(`fileRef escapes the artifact store: ${fileRef}`);
    return full;
  }

  refFor(runId: string, fileName: string): string {
    return path.posix.join('runs', runId, `original${path.extname(fileName).toLowerCase().slice(0, 8)}`);
  }

  /** Streams `source` into the run's slot (write to a temp name, then rename) and returns size and sha256. */
  async put(fileRef: string, source: Readable): Promise<{ size: number; sha256: string }> {
    const target = this.resolve(fileRef);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    const hash = crypto.createHash('sha256');
    let size = 0;
    source.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    await pipeline(source, fs.createWriteStream(tmp));
    await fs.promises.rename(tmp, target);
    return { size, sha256: hash.digest('hex') };
  }

  /** Hashes a file already in place (e.g. written by a fast SFTP download). */
  async stat(fileRef: string): Promise<{ size: number; sha256: string } | undefined> {
    const full = this.resolve(fileRef);
    if (!fs.existsSync(full)) return undefined;
    const hash = crypto.createHash('sha256');
    await pipeline(fs.createReadStream(full), hash);
    return { size: (await fs.promises.stat(full)).size, sha256: hash.digest('hex') };
  }

  open(fileRef: string): Readable {
    return fs.createReadStream(this.resolve(fileRef));
  }

  async remove(fileRef: string): Promise<void> {
    await fs.promises.rm(this.resolve(fileRef), { force: true });
  }
}
