import type { FileRule } from '../contracts/sync-config';
import { isTemporaryName } from './temporary-name';
import { plainUploadState, type UnfinishedUpload } from './upload-quiet';

/**
 * Which file a run reads, by the district's rule. Pure, so the rules are the same for our hosted
 * server and for a district's own SFTP server, and easy to test.
 */
export type { FileRule };

export interface DirEntry {
  /** Path relative to the source root, '/'-separated, no leading slash. */
  path: string;
  isDirectory: boolean;
  size: number;
  mtimeMs: number;
}

export type PickResult =
  | { kind: 'file'; entry: DirEntry }
  | { kind: 'none'; reason: string }
  | { kind: 'uploading'; entry: DirEntry; reason: string };

const DATA_FILE = /\.(csv|txt)$/i;
const EPOCH_DIR = /^upload\/(\d{8}-\d{6})$/;

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

function newest(entries: DirEntry[]): DirEntry | undefined {
  return entries.reduce<DirEntry | undefined>(
    (best, e) =>
      !best || e.mtimeMs > best.mtimeMs || (e.mtimeMs === best.mtimeMs && e.path > best.path) ? e : best,
    undefined,
  );
}

export interface PickOptions {
  fileName?: string | null;
  nowMs: number;
  quietMs: number;
  /** Unfinished uploads the hosted SFTP server knows of, by path (none known for a district's own server). */
  unfinished?: ReadonlyMap<string, UnfinishedUpload>;
}

/** A plain file is read only once complete by the rule the hosted server uses too (upload-quiet.ts). */
function settled(entry: DirEntry, opts: PickOptions): PickResult {
  const state = plainUploadState(
    {
      path: entry.path,
      mtimeMs: entry.mtimeMs,
      unfinished: opts.unfinished?.get(entry.path),
    },
    opts.nowMs,
    opts.quietMs,
  );
  return state.complete ? { kind: 'file', entry } : { kind: 'uploading', entry, reason: state.reason };
}

/** Epoch folders (upload/YYYYMMDD-HHMMSS) holding a COMPLETE marker. */
function completeEpochs(files: DirEntry[]): Set<string> {
  return new Set(
    files
      .filter((e) => baseName(e.path) === 'COMPLETE')
      .map((e) => e.path.slice(0, -'/COMPLETE'.length))
      .filter((dir) => EPOCH_DIR.test(dir)),
  );
}

function unfinishedMember(dir: string, memberPath: string, state: UnfinishedUpload): string {
  const why =
    state === 'interrupted'
      ? 'its last upload to the hosted SFTP server was interrupted (the connection dropped with the file open); upload it again or resume the upload'
      : 'it is still open for writing on the hosted SFTP server (COMPLETE arrived before it was closed)';
  return `Epoch folder /${dir}/ is still being uploaded: /${memberPath} is unfinished, ${why}. The folder is read once every file in it is closed.`;
}

export function pickFile(entries: DirEntry[], rule: FileRule, opts: PickOptions): PickResult {
  const files = entries.filter((e) => !e.isDirectory && !isTemporaryName(baseName(e.path)));
  const rootFiles = files.filter((e) => !e.path.includes('/'));
  switch (rule) {
    case 'specific_name': {
      const wanted = (opts.fileName ?? '').trim();
      const entry = rootFiles.find((e) => e.path === wanted);
      if (entry) return settled(entry, opts);
      const caseInsensitive = rootFiles.find((e) => e.path.toLowerCase() === wanted.toLowerCase());
      return {
        kind: 'none',
        reason: caseInsensitive
          ? `No file named '${wanted}' in the folder, but '${caseInsensitive.path}' is there: names are case-sensitive. Rename the file or change the configured file name.`
          : `No file named '${wanted}' in the folder. Upload it there, or switch the config to 'latest file'.`,
      };
    }
    case 'latest': {
      const entry = newest(rootFiles.filter((e) => DATA_FILE.test(e.path)));
      if (entry) return settled(entry, opts);
      const other = rootFiles.find((e) => !DATA_FILE.test(e.path));
      return {
        kind: 'none',
        reason: other
          ? `No .csv or .txt file in the folder (found '${other.path}'). Save the export as CSV and upload it to the top folder.`
          : 'No .csv file in the folder. Upload the export to the top folder (files in sub-folders are not read).',
      };
    }
    case 'auto_suffix': {
      // On a district's own server the file stays in /upload/ and is read once quiet. Our hosted
      // server moves a closed *_auto.csv upload into an epoch folder of its own with a COMPLETE
      // marker at once, so there it is found, complete, in that folder.
      const complete = completeEpochs(files);
      const moved = newest(
        files.filter((e) => {
          const m = /^(upload\/\d{8}-\d{6})\/[^/]+_auto\.csv$/i.exec(e.path);
          return m !== null && complete.has(m[1]);
        }),
      );
      const waiting = newest(files.filter((e) => /^upload\/[^/]+_auto\.csv$/i.test(e.path)));
      if (moved && (!waiting || moved.mtimeMs >= waiting.mtimeMs)) return { kind: 'file', entry: moved };
      if (waiting) return settled(waiting, opts);
      return {
        kind: 'none',
        reason:
          "No '*_auto.csv' file in /upload/. Name the file like users_auto.csv and upload it to /upload/.",
      };
    }
    case 'epoch': {
      const complete = completeEpochs(files);
      const epochs = [...complete].sort();
      // From the records, not the listing: a member under a temporary name counts too.
      const unfinishedByEpoch = new Map<string, [string, UnfinishedUpload]>();
      for (const [member, state] of opts.unfinished ?? []) {
        const dir = member.split('/').slice(0, 2).join('/');
        if (member.length > dir.length && !unfinishedByEpoch.has(dir))
          unfinishedByEpoch.set(dir, [member, state]);
      }
      for (const dir of epochs.reverse()) {
        const inside = files.filter(
          (e) =>
            e.path.startsWith(`${dir}/`) &&
            DATA_FILE.test(e.path) &&
            !e.path.slice(dir.length + 1).includes('/'),
        );
        const entry = inside.find((e) => /users\.(csv|txt)$/i.test(e.path)) ?? newest(inside);
        if (!entry) continue;
        // A client uploading in parallel may send COMPLETE before its other files are closed.
        const unfinished = unfinishedByEpoch.get(dir);
        if (unfinished) return { kind: 'uploading', entry, reason: unfinishedMember(dir, ...unfinished) };
        return { kind: 'file', entry };
      }
      const pending = entries.find((e) => e.isDirectory && EPOCH_DIR.test(e.path) && !complete.has(e.path));
      return {
        kind: 'none',
        reason: pending
          ? `Epoch folder /${pending.path}/ has no COMPLETE file yet: upload an empty file named COMPLETE into it when the upload is finished.`
          : 'No complete epoch folder: create /upload/YYYYMMDD-HHMMSS/, upload users.csv into it, then an empty file named COMPLETE.',
      };
    }
  }
}
