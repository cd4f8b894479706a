import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailureType } from '../contracts/sync';
import { DomainError } from '../errors/domain-error';
import type { DistrictArtifactsRepository } from './district-artifacts.repository';

/** What one district may keep (DISTRICT_ARTIFACT_MAX_BYTES), counted in Postgres across every worker. */
export interface ArtifactBound {
  repository: DistrictArtifactsRepository;
  maxBytes: number;
}

export interface StoredFile {
  fileRef: string;
  size: number;
  sha256: string;
}

/** A byte count as an admin reads it in a failure message. */
export const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/**
 * Keeps each run's original file, byte for byte, so history can serve it and a replayed run reads
 * exactly what the first attempt read. A fileRef is a path relative to the store's root.
 *
 * With a bound (the worker's fetch), a district's files are content-addressed
 * (`districts/<districtId>/<sha256>`: the same file fetched again is stored once) and their total
 * size is capped: to make room, the oldest files are released, never the last applied run's nor
 * one a run not yet ended may read again (docs/runbook.md, Artifact bound).
 */
export class ArtifactStore {
  constructor(
    readonly root: string,
    private readonly bound?: ArtifactBound,
  ) {}

  /** The same store, counting and capping what each district keeps. */
  withBound(bound: ArtifactBound): ArtifactStore {
    return new ArtifactStore(this.root, bound);
  }

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
    const tmp = `${target}.${process.pid}.tmp`;
    const copied = await this.copy(source, tmp, Number.POSITIVE_INFINITY);
    await fs.promises.rename(tmp, target);
    return copied;
  }

  /**
   * Keeps the file a run fetched (`listedSize` as the source listed it). Bounded: room is made
   * before a byte is copied, and a file that grows past the room left fails while it copies.
   */
  async putForRun(
    runId: string,
    fileName: string,
    listedSize: number,
    source: Readable,
    /** Run once the bytes are copied, before they are kept: throwing discards the copy. */
    beforeKeep: () => Promise<void> = async () => undefined,
  ): Promise<StoredFile> {
    if (!this.bound) {
      const fileRef = this.refFor(runId, fileName);
      const copied = await this.put(fileRef, source);
      await beforeKeep().catch(async (err: unknown) => {
        await this.remove(fileRef);
        throw err;
      });
      return { fileRef, ...copied };
    }
    const { repository } = this.bound;
    const districtId = await this.districtOf(runId);
    const room = await this.makeRoom(districtId, listedSize, () => source.destroy());
    const tmp = this.resolve(path.posix.join('districts', districtId, this.incomingName(runId)));
    let copied: { size: number; sha256: string };
    try {
      copied = await this.copy(source, tmp, room);
      await beforeKeep();
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      if (err instanceof RoomExceeded) throw this.limitExceeded(room + 1, 'grew while it was copied');
      throw err;
    }
    const existing = await repository.findBySha256(districtId, copied.sha256);
    if (existing && (await this.stat(existing.file_ref))?.sha256 === copied.sha256) {
      await fs.promises.rm(tmp, { force: true });
      return { fileRef: existing.file_ref, ...copied };
    }
    const fileRef = path.posix.join('districts', districtId, copied.sha256);
    await fs.promises.rename(tmp, this.resolve(fileRef));
    // Content-addressed: the file is recorded, and handed out by its hash, only if its bytes match it.
    const placed = await this.stat(fileRef);
    if (placed?.sha256 !== copied.sha256) {
      await this.remove(fileRef);
      throw new Error(
        `The copy of ${fileName} changed after it was written (its SHA-256 no longer matches), so it was not kept; the fetch is retried.`,
      );
    }
    await repository.add({ fileRef, districtId, sha256: copied.sha256, size: copied.size });
    return { fileRef, ...copied };
  }

  /** A temporary name of this attempt's own: overlapping attempts of one run never share a file. */
  incomingName(runId: string): string {
    return `incoming-${runId}-${crypto.randomBytes(6).toString('hex')}.tmp`;
  }

  /**
   * The run's slot for a download of exactly `size` bytes written straight to disk (a district's
   * own server), counted against the bound before the download starts.
   */
  async reserveForRun(runId: string, fileName: string, size: number): Promise<string> {
    // A slot of this attempt's own: overlapping attempts of one run never write one file.
    const slot = this.refFor(runId, fileName);
    const fileRef = `${slot.slice(0, slot.length - path.posix.extname(slot).length)}-${crypto.randomBytes(6).toString('hex')}${path.posix.extname(slot)}`;
    await fs.promises.mkdir(path.dirname(this.resolve(fileRef)), { recursive: true });
    if (!this.bound) return fileRef;
    const districtId = await this.districtOf(runId);
    await this.makeRoom(districtId, size);
    await this.bound.repository.add({ fileRef, districtId, sha256: null, size });
    return fileRef;
  }

  /** Gives up a file a run did not keep (a failed, cancelled or superseded fetch) and its reservation. */
  async release(fileRef: string): Promise<void> {
    await this.remove(fileRef);
    await this.bound?.repository.remove(fileRef);
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

  private async districtOf(runId: string): Promise<string> {
    const districtId = await this.bound!.repository.districtOfRun(runId);
    if (!districtId) throw new DomainError(FailureType.RunNotFound, `Run ${runId} does not exist`);
    return districtId;
  }

  /**
   * Releases the district's oldest releasable files until `needed` more bytes fit; returns the room
   * then left. Throws (after `abort`) when even that is not enough.
   */
  private async makeRoom(districtId: string, needed: number, abort: () => void = () => {}): Promise<number> {
    const { repository, maxBytes } = this.bound!;
    let used = await repository.usedBytes(districtId);
    if (needed <= maxBytes && used + needed > maxBytes) {
      for (const old of await repository.releasable(districtId)) {
        await repository.remove(old.file_ref);
        await this.remove(old.file_ref);
        used -= old.size;
        if (used + needed <= maxBytes) break;
      }
    }
    if (used + needed > maxBytes) {
      abort();
      throw this.limitExceeded(used + needed, needed > maxBytes ? 'is larger than the limit itself' : null);
    }
    return maxBytes - used;
  }

  private limitExceeded(wouldUse: number, why: string | null): DomainError {
    const max = this.bound!.maxBytes;
    const reason = why
      ? `The file ${why}`
      : `The district's kept files would take ${wouldUse} bytes (${gib(wouldUse)})`;
    return new DomainError(
      FailureType.ArtifactLimitExceeded,
      `${reason}, over the district's storage limit of ${max} bytes (${gib(max)}, DISTRICT_ARTIFACT_MAX_BYTES); nothing was kept. The file of the last applied run and those of runs not yet ended are never released, older files were. Check that the district exports the right file; if it does, raise DISTRICT_ARTIFACT_MAX_BYTES on the worker, then run again.`,
    );
  }

  /** Copies into `target` (folders made), hashing; more than `cap` bytes fails with RoomExceeded. */
  private async copy(
    source: Readable,
    target: string,
    cap: number,
  ): Promise<{ size: number; sha256: string }> {
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const hash = crypto.createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > cap) return done(new RoomExceeded());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(source, meter, fs.createWriteStream(target));
    return { size, sha256: hash.digest('hex') };
  }
}

class RoomExceeded extends Error {}
