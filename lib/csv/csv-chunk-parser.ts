import { Parser, type CsvError } from 'csv-parse';

/**
 * csv-parse, driven synchronously one chunk at a time: `push(bytes)` hands every record completed
 * by those bytes to `onRecord` before it returns. The reader then turns them into one batch per
 * chunk without a stream hop per record (csv-parse's stream wrapper costs more than the parsing).
 * This uses the parsing core that csv-parse's own Transform wraps (`parser.api`); the constructor
 * checks it is there, so an upgrade that moves it fails loudly in the unit tests.
 */
export interface CsvParseError {
  code: string;
  message: string;
  /** Whether the parser was inside a quoted value: a record too large because a quote never closed. */
  quoting: boolean;
}

interface ParserCore {
  state?: { expectedRecordLength?: number; quoting?: boolean; record?: unknown[] };
  parse(
    buf: Buffer | undefined,
    end: boolean,
    push: (record: string[]) => void,
    close: () => void,
  ): CsvError | undefined;
}

/** Bounds one record (all its fields), so a quote that never closes cannot eat the memory. */
export const MAX_RECORD_CHARS = 1_000_000;
/**
 * Bounds one record's values, more than a spreadsheet has columns (16,384): a line of a million
 * commas holds no characters for MAX_RECORD_CHARS to count, only a million empty values.
 */
export const MAX_RECORD_CELLS = 20_000;
/** Bytes parsed at a time, so the record in progress is checked against MAX_RECORD_CELLS often. */
const SLICE_BYTES = 64 * 1024;

export class CsvChunkParser {
  private readonly core: ParserCore;
  private readonly onRecord: (cells: string[]) => void;
  private closed = false;
  /** A record with more than MAX_RECORD_CELLS values was completed: it and the rest are dropped. */
  private tooManyCells = false;

  constructor(onRecord: (cells: string[]) => void) {
    const parser = new Parser({
      relax_column_count: true,
      // A quote inside an unquoted value (John "JJ" Smith) is taken literally instead of failing the file.
      relax_quotes: true,
      // Blank lines come through as [''] so the reader can count them and keep line numbers right.
      skip_empty_lines: false,
      // Every line ending on every line: files with rows appended in another editor mix them, and a
      // single detected ending would glue the other lines into one broken row.
      record_delimiter: ['\r\n', '\n', '\r'],
      max_record_size: MAX_RECORD_CHARS,
    });
    const core = (parser as unknown as { api?: ParserCore }).api;
    if (!core || typeof core.parse !== 'function' || !Array.isArray(core.state?.record)) {
      throw new Error(
        'csv-parse no longer exposes its parsing core as parser.api (with state.record); update lib/csv/csv-chunk-parser.ts',
      );
    }
    this.core = core;
    const state = core.state;
    const bounded = (cells: string[]): boolean => {
      if (this.tooManyCells || cells.length > MAX_RECORD_CELLS) this.tooManyCells = true;
      return !this.tooManyCells;
    };
    if (state && typeof state === 'object' && 'expectedRecordLength' in state) {
      // With relax_column_count, csv-parse still builds (and deep-copies the context of) an error for
      // every record whose width differs from the FIRST record's: a metadata line or a header with
      // trailing commas made every row 5-8x slower. Expecting the previous record's width instead
      // leaves the parsing unchanged and makes only changes of width cost anything.
      this.onRecord = (cells) => {
        state.expectedRecordLength = cells.length;
        if (bounded(cells)) onRecord(cells);
      };
    } else {
      this.onRecord = (cells) => {
        if (bounded(cells)) onRecord(cells);
      };
    }
  }

  /** Parses the bytes; returns the parse error, if any (the parser stops at the first one). */
  push(bytes: Buffer): CsvParseError | undefined {
    for (let from = 0; from < bytes.length && !this.closed; from += SLICE_BYTES) {
      const err = this.run(bytes.subarray(from, from + SLICE_BYTES), false);
      if (err) return err;
    }
    return undefined;
  }

  end(): CsvParseError | undefined {
    if (this.closed) return undefined;
    return this.run(undefined, true);
  }

  private run(bytes: Buffer | undefined, end: boolean): CsvParseError | undefined {
    const err = this.core.parse(bytes, end, this.onRecord, () => {
      this.closed = true;
    });
    if (err) {
      this.closed = true;
      return { code: err.code, message: err.message, quoting: this.core.state?.quoting === true };
    }
    if (this.tooManyCells || (this.core.state?.record?.length ?? 0) > MAX_RECORD_CELLS) {
      this.closed = true;
      return {
        code: 'CSV_TOO_MANY_CELLS',
        message: `a record has more than ${MAX_RECORD_CELLS} values`,
        quoting: false,
      };
    }
    return undefined;
  }
}
