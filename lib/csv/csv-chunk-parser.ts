import { StringDecoder } from 'node:string_decoder';

/**
 * The CSV tokenizer, driven synchronously one chunk at a time: `push(bytes)` hands every record
 * completed by those bytes to `onRecord` before it returns, so the reader turns them into one batch
 * per chunk. Written for speed on what districts send: a line without a double quote (nearly all of
 * them) is cut with one native `split(',')`; only lines with quotes take the character-level path.
 *
 * The dialect is csv-parse's with relax_column_count, relax_quotes and blank lines kept:
 * - the record delimiter is the first of CRLF, LF or CR seen outside quotes, then that one only;
 * - a field starting with a double quote is quoted: "" is a quote, commas and line breaks are data,
 *   and the closing quote must be followed by a comma or the end of the record;
 * - a quote inside an unquoted field is literal (John "JJ" Smith);
 * - a blank line is a record of one empty cell (the reader counts and skips it);
 * - rows may have any number of cells.
 */
export interface CsvParseError {
  code: 'CSV_QUOTE_NOT_CLOSED' | 'CSV_INVALID_CLOSING_QUOTE' | 'CSV_MAX_RECORD_SIZE';
  message: string;
}

/** Bounds one record (all its fields), so a quote that never closes cannot eat the memory. */
export const MAX_RECORD_CHARS = 1_000_000;

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** Positions are >= 0; these say why no position could be returned. */
const NONE = -1;
const NEED_MORE = -2;
const FAILED = -3;

export class CsvChunkParser {
  private readonly decoder = new StringDecoder('utf8');
  /** Text not yet turned into records: it always starts at the beginning of a record. */
  private rest = '';
  /** '\r\n', '\n' or '\r' once seen outside quotes; '' until then. */
  private delimiter = '';
  private closed = false;
  private error: CsvParseError | undefined;

  constructor(private readonly onRecord: (cells: string[]) => void) {}

  /** Parses the bytes; returns the parse error, if any (the parser stops at the first one). */
  push(bytes: Buffer): CsvParseError | undefined {
    if (bytes.length === 0 || this.closed) return undefined;
    return this.run(this.decoder.write(bytes), false);
  }

  end(): CsvParseError | undefined {
    if (this.closed) return undefined;
    const err = this.run(this.decoder.end(), true);
    this.closed = true;
    return err;
  }

  private run(chunk: string, end: boolean): CsvParseError | undefined {
    const text = this.rest.length > 0 ? this.rest + chunk : chunk;
    let pos = 0;
    while (pos < text.length) {
      const next = this.record(text, pos, end);
      if (next === NEED_MORE) break;
      if (next === FAILED) return this.error;
      pos = next;
    }
    this.rest = pos < text.length ? text.slice(pos) : '';
    if (this.rest.length > MAX_RECORD_CHARS) return this.fail('CSV_MAX_RECORD_SIZE');
    return undefined;
  }

  private fail(code: CsvParseError['code']): CsvParseError {
    this.closed = true;
    this.rest = '';
    this.error = { code, message: code };
    return this.error;
  }

  private failed(code: CsvParseError['code']): number {
    this.fail(code);
    return FAILED;
  }

  /** Emits the record starting at `start`; returns where the next one starts, NEED_MORE or FAILED. */
  private record(text: string, start: number, end: boolean): number {
    const stop = this.delimiterAt(text, start, end);
    if (stop === NEED_MORE || (stop === NONE && !end)) return NEED_MORE;
    const line = text.slice(start, stop === NONE ? text.length : stop);
    if (line.indexOf('"') !== -1) return this.quotedRecord(text, start, end);
    this.onRecord(line.split(','));
    return stop === NONE ? text.length : stop + this.adopt(text, stop);
  }

  /** The slow path: a record with at least one double quote, field by field. */
  private quotedRecord(text: string, start: number, end: boolean): number {
    const cells: string[] = [];
    let pos = start;
    for (;;) {
      if (pos < text.length && text.charCodeAt(pos) === QUOTE) {
        // Quoted field: up to the closing quote; "" is a literal quote.
        let cell = '';
        let from = pos + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q === -1) return end ? this.failed('CSV_QUOTE_NOT_CLOSED') : NEED_MORE;
          if (q + 1 >= text.length && !end) return NEED_MORE; // a quote or the closing one?
          cell += text.slice(from, q);
          if (text.charCodeAt(q + 1) !== QUOTE) {
            pos = q + 1;
            break;
          }
          cell += '"';
          from = q + 2;
        }
        cells.push(cell);
      } else {
        // Unquoted field: up to the next comma or record delimiter; a quote in it is literal.
        const stop = this.delimiterAt(text, pos, end);
        if (stop === NEED_MORE) return NEED_MORE;
        const limit = stop === NONE ? text.length : stop;
        const comma = text.indexOf(',', pos);
        const fieldEnd = comma !== -1 && comma < limit ? comma : limit;
        if (fieldEnd === text.length && !end) return NEED_MORE;
        cells.push(text.slice(pos, fieldEnd));
        pos = fieldEnd;
      }
      if (pos >= text.length) {
        if (!end) return NEED_MORE;
        this.onRecord(cells);
        return text.length;
      }
      const c = text.charCodeAt(pos);
      if (c === COMMA) {
        pos++;
        if (pos < text.length) continue;
        if (!end) return NEED_MORE;
        cells.push('');
        this.onRecord(cells);
        return text.length;
      }
      if (c === CR || c === LF) {
        if (!end && pos + Math.max(this.delimiter.length, 2) > text.length) return NEED_MORE;
        if (this.delimiter.length === 0) this.adopt(text, pos);
        if (text.startsWith(this.delimiter, pos)) {
          this.onRecord(cells);
          return pos + this.delimiter.length;
        }
      }
      return this.failed('CSV_INVALID_CLOSING_QUOTE');
    }
  }

  /**
   * The next record delimiter at or after `pos`, assuming no quote opens before it: NONE when the
   * text has none, NEED_MORE when the text ends with a CR that may be half of a CRLF.
   */
  private delimiterAt(text: string, pos: number, end: boolean): number {
    if (this.delimiter.length > 0) {
      const at = text.indexOf(this.delimiter, pos);
      if (at === -1 && !end && this.delimiter === '\r\n' && text.charCodeAt(text.length - 1) === CR) {
        return NEED_MORE;
      }
      return at;
    }
    const lf = text.indexOf('\n', pos);
    const cr = text.indexOf('\r', pos);
    const first = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
    if (first === -1) return NONE;
    if (first === cr && first + 1 === text.length && !end) return NEED_MORE;
    return first;
  }

  /** Length of the record delimiter at `at`; the first one seen becomes the file's delimiter. */
  private adopt(text: string, at: number): number {
    if (this.delimiter.length === 0) {
      const c = text.charCodeAt(at);
      this.delimiter = c === LF ? '\n' : text.charCodeAt(at + 1) === LF ? '\r\n' : '\r';
    }
    return this.delimiter.length;
  }
}
