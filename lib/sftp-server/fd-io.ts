import fs from 'node:fs';

/**
 * Positional, callback-based file descriptor calls as promises: many reads and writes of one session
 * overlap on the thread pool (clients pipeline), with no stream or FileHandle in between.
 */

const FILE_MODE = 0o600;

export const readP = (fd: number, buf: Buffer, len: number, pos: number) =>
  new Promise<number>((resolve, reject) =>
    fs.read(fd, buf, 0, len, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );

/** Writes all of `buf` at `pos` (or at the end, for null with O_APPEND), however short each write is. */
export const writeP = (fd: number, buf: Buffer, pos: number | null) =>
  new Promise<void>((resolve, reject) => {
    const step = (off: number, p: number | null): void => {
      fs.write(fd, buf, off, buf.length - off, p, (err, n) => {
        if (err) return reject(err);
        if (off + n >= buf.length) return resolve();
        step(off + n, p === null ? null : p + n);
      });
    };
    step(0, pos);
  });

export const fstatP = (fd: number) =>
  new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));

export const closeFd = (fd: number) => new Promise<void>((resolve) => fs.close(fd, () => resolve()));

/** Files the server creates are the account's alone. */
export const openP = (real: string, flags: number) =>
  new Promise<number>((resolve, reject) =>
    fs.open(real, flags, FILE_MODE, (err, fd) => (err ? reject(err) : resolve(fd))),
  );

export const ftruncateP = (fd: number, size: number) =>
  new Promise<void>((resolve, reject) => fs.ftruncate(fd, size, (err) => (err ? reject(err) : resolve())));

export const futimesP = (fd: number, atime: number, mtime: number) =>
  new Promise<void>((resolve, reject) =>
    fs.futimes(fd, atime, mtime, (err) => (err ? reject(err) : resolve())),
  );
