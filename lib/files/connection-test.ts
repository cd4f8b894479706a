import { Readable } from 'node:stream';
import { readRoster } from '../csv/read-roster';
import { knownColumn } from '../csv/roster-columns';
import type { MatchingKey } from '../csv/roster-record';
import { type DirEntry, type FileRule, pickFile } from './pick-file';
import type { UnfinishedUpload } from './upload-quiet';

/**
 * Test Connection: what the next run would meet on its way to the file, step by step, without
 * importing anything. Each step has its own time limit; their sum (STEP_LIMITS_MS) bounds the whole.
 */
export type StepName = 'dns' | 'tcp' | 'ssh' | 'auth' | 'path' | 'file' | 'header';

export interface ConnectionStep {
  step: StepName;
  status: 'ok' | 'failed' | 'skipped';
  /** Stable code from the error dictionary, on a failed step (and on HOST_KEY_UNKNOWN). */
  code?: string;
  message: string;
  detail?: Record<string, unknown>;
}

export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionStep[];
}

/** Longest time each step may take; together 20 s, the most a Test Connection call takes. */
export const STEP_LIMITS_MS: Readonly<Record<StepName, number>> = Object.freeze({
  dns: 2_000,
  tcp: 3_000,
  ssh: 4_000,
  auth: 4_000,
  path: 2_000,
  file: 3_000,
  header: 2_000,
});

/** How much of the picked file is read to find its header row. */
export const HEAD_BYTES = 64 * 1024;

/** A step's answer: what it found, for the admin. */
export interface StepOk<T> {
  value: T;
  message: string;
  detail?: Record<string, unknown>;
}

/** A step that found a problem the admin must fix. */
export class StepFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const seconds = (ms: number) => `${ms / 1000} s`;

/** Runs steps in order; after a failure the remaining ones are reported as skipped. */
export class StepRunner {
  private readonly steps: ConnectionStep[] = [];
  private failed = false;

  constructor(
    private readonly plan: readonly StepName[],
    private readonly limitsMs: Readonly<Record<StepName, number>> = STEP_LIMITS_MS,
  ) {}

  /**
   * Undefined when the step failed (or an earlier one did). `onTimeout` says what a step that ran out
   * of time means; `unexpectedCode` names a failure the step did not foresee (its message is not
   * shown: it may hold an address of our network).
   */
  async run<T>(
    step: StepName,
    work: () => Promise<StepOk<T>>,
    onTimeout: (limit: string) => StepFailure,
    unexpectedCode: string,
  ): Promise<T | undefined> {
    if (this.failed) return undefined;
    const limitMs = this.limitsMs[step];
    let timer: NodeJS.Timeout | undefined;
    const pending = work();
    pending.catch(() => undefined); // settles after a timeout too, when the caller closes the connection
    try {
      const outcome = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(onTimeout(seconds(limitMs))), limitMs);
        }),
      ]);
      this.steps.push({
        step,
        status: 'ok',
        message: outcome.message,
        ...(outcome.detail && { detail: outcome.detail }),
      });
      return outcome.value;
    } catch (err) {
      this.fail(
        step,
        err instanceof StepFailure
          ? err
          : new StepFailure(unexpectedCode, `The ${step} step failed unexpectedly${errnoOf(err)}.`),
      );
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A failure found without running a step (a setting that cannot work). */
  fail(step: StepName, failure: StepFailure): void {
    if (this.failed) return;
    this.failed = true;
    this.steps.push({
      step,
      status: 'failed',
      code: failure.code,
      message: failure.message,
      ...(failure.detail && { detail: failure.detail }),
    });
  }

  result(): ConnectionTestResult {
    const done = new Set(this.steps.map((s) => s.step));
    const skipped = this.plan
      .filter((step) => !done.has(step))
      .map((step): ConnectionStep => ({
        step,
        status: 'skipped',
        message: 'Not tried: an earlier step failed.',
      }));
    return { ok: !this.failed, steps: [...this.steps, ...skipped] };
  }
}

/** An error's symbolic code (ECONNRESET), never its message. */
export function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z_]{2,32}$/.test(code) ? ` (${code})` : '';
}

export interface PickSettings {
  fileRule: FileRule;
  fileName: string | null;
  quietMs: number;
  maxFileBytes: number;
  unfinished?: ReadonlyMap<string, UnfinishedUpload>;
}

/** The file step: the file the next run would pick from `entries`, or why none qualifies. */
export function pickStep(entries: DirEntry[], where: string, opts: PickSettings): StepOk<DirEntry> {
  const pick = pickFile(entries, opts.fileRule, {
    fileName: opts.fileName,
    nowMs: Date.now(),
    quietMs: opts.quietMs,
    unfinished: opts.unfinished,
  });
  if (pick.kind === 'none') throw new StepFailure('NO_FILE_QUALIFIES', pick.reason, { rule: opts.fileRule });
  const detail = {
    name: pick.entry.path.slice(pick.entry.path.lastIndexOf('/') + 1),
    path: pick.entry.path,
    size: pick.entry.size,
    modifiedAt: new Date(pick.entry.mtimeMs).toISOString(),
  };
  if (pick.kind === 'uploading') throw new StepFailure('FILE_STILL_UPLOADING', pick.reason, detail);
  if (pick.entry.size > opts.maxFileBytes)
    throw new StepFailure(
      'FILE_TOO_LARGE',
      `${detail.path} on ${where} is ${detail.size} bytes, over the limit of ${opts.maxFileBytes} bytes (FETCH_MAX_FILE_BYTES): a run would not copy it.`,
      detail,
    );
  return {
    value: pick.entry,
    message: `The next run would read ${detail.path} (${detail.size} bytes, modified ${detail.modifiedAt}).`,
    detail,
  };
}

/** Fatal findings that only mean the head was cut short of the file's end. */
const CUT_SHORT = new Set(['TRUNCATED_FILE', 'HEADER_ONLY']);

/**
 * The header step: reads the head of the file (at most HEAD_BYTES, cut after its last line break when
 * the file goes on) as a run reads it (encoding, BOM, metadata lines above the header) and checks its
 * columns against the template for the config's matching key.
 */
export async function headerStep(
  head: Buffer,
  whole: boolean,
  fileName: string,
  matchingKey: MatchingKey,
): Promise<StepOk<undefined>> {
  let bytes = head;
  if (!whole) {
    const lastBreak = head.lastIndexOf(0x0a);
    if (lastBreak < 0)
      throw new StepFailure(
        'HEADER_NOT_FOUND',
        `The first ${HEAD_BYTES / 1024} KiB of ${fileName} hold no line break, so no header row: it is not a roster CSV file.`,
      );
    bytes = head.subarray(0, lastBreak + 1);
  }
  const reader = readRoster(Readable.from([bytes]), { fileName, matchingKey, schools: [] });
  const suggestions: string[] = [];
  let next = await reader.next();
  while (!next.done) {
    for (const f of next.value.findings)
      if (f.code === 'UNKNOWN_COLUMN_SUGGESTION') suggestions.push(f.message);
    next = await reader.next();
  }
  const summary = next.value;
  const fatal = summary.fatal && !(CUT_SHORT.has(summary.fatal.code) && !whole) ? summary.fatal : undefined;
  if (fatal) {
    throw new StepFailure(fatal.code, fatal.message, {
      ...(fatal.code === 'MISSING_REQUIRED_COLUMN' && fatal.column && { missing: fatal.column.split(', ') }),
    });
  }
  const extra = summary.headers.filter((h) => h.length > 0 && !knownColumn(h));
  return {
    value: undefined,
    message: `The header row has every required column for matching by ${matchingKey}${
      extra.length > 0 ? `; ${extra.length} other column(s) would be kept as custom fields` : ''
    }.`,
    detail: { encoding: summary.encoding, columns: summary.headers, missing: [], extra, suggestions },
  };
}
