import type { Readable } from 'node:stream';
import { CsvChunkParser, type CsvParseError, MAX_RECORD_CELLS, MAX_RECORD_CHARS } from './csv-chunk-parser';
import { CsvDecoder } from './csv-decoder';
import { MAX_HEADER_CELLS, TEMPLATE_HEADERS } from './roster-columns';
import { type ColumnPlan, headerScore, planColumns } from './roster-header';
import { RosterFileError, fatal, makeFinding, quoteValue } from './roster-findings';
import type { MatchingKey } from '../contracts/sync-config';
import type { Finding, RosterRecord } from './roster-record';
import { RosterRowValidator } from './roster-row-validator';

/**
 * Reads a district's roster file as a stream: decode (BOM, UTF-16, Windows-1252), parse, find the
 * header, validate each row. Yields one batch per chunk of the file and returns the summary.
 *
 * Contract for the caller (staging): when the returned summary has `fatal`, nothing from the file
 * may be applied — including batches already yielded. Most fatal problems (not a CSV, empty,
 * missing columns) are found before the first batch; two can only show up later in the file
 * (MIXED_ENCODING, MALFORMED_CSV), so staging must always check `fatal` before planning.
 *
 * Row numbers are line numbers of the row's first line (the header is row 1 unless metadata lines
 * precede it); a value with line breaks inside quotes makes the next row number jump accordingly.
 * Counts: rowsTotal = every line-record after the header = rowsBlank + rowsValid + rowsWithErrors.
 */
export interface ReadRosterOptions {
  fileName: string;
  matchingKey: MatchingKey;
  schools: readonly string[];
}

export interface RosterBatch {
  records: RosterRecord[];
  findings: Finding[];
  /**
   * The matching key's value (as a record would carry it: trimmed, emails lower-cased) of each row
   * skipped with a row error, when the row has one. Staging uses it so that a user whose row has an
   * error is left as is rather than archived for being absent from the file.
   */
  errorKeys?: Array<{ rowNumber: number; key: string }>;
  /**
   * The other values of those rows that could be someone's key: staged to keep the users they name
   * from being archived (a shifted row holds its key in another column), and for nothing else.
   */
  errorRowValues?: Array<{ rowNumber: number; key: string }>;
}

export interface ReadSummary {
  rowsTotal: number;
  rowsBlank: number;
  rowsValid: number;
  rowsWithErrors: number;
  warningCount: number;
  encoding: string;
  headers: string[];
  fatal?: Finding;
}

/** Non-blank lines looked at for the header row before the file is refused (HEADER_NOT_FOUND). */
const MAX_LINES_BEFORE_HEADER = 10;
/** Row numbers of blank rows listed in the BLANK_ROWS_SKIPPED message. */
const BLANK_ROWS_LISTED = 10;

export async function* readRoster(
  source: NodeJS.ReadableStream | Readable,
  opts: ReadRosterOptions,
): AsyncGenerator<RosterBatch, ReadSummary> {
  const decoder = new CsvDecoder(opts.fileName);
  const reader = new RosterReadState(opts, decoder);
  const parser = new CsvChunkParser((cells) => reader.onRecord(cells));
  let warned1252 = false;
  /** Last byte handed to the parser: whether the file ends with a line break. */
  let lastByte = -1;
  const feed = (bytes: Buffer, end: boolean): void => {
    if (bytes.length > 0) lastByte = bytes[bytes.length - 1];
    if (decoder.fellBackTo1252 && !warned1252) {
      warned1252 = true;
      reader.fileWarning(
        makeFinding(
          'WINDOWS_1252_DETECTED',
          `'${opts.fileName}' is not UTF-8; it was read as Windows-1252 (ANSI).`,
        ),
      );
    }
    const err = end ? (parser.push(bytes) ?? parser.end()) : parser.push(bytes);
    reader.throwIfFailed();
    if (err) throw malformed(err, reader.nextLine);
  };

  try {
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      feed(decoder.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk), false);
      const batch = reader.takeBatch();
      if (batch) yield batch;
    }
    feed(decoder.end(), true);
    if (decoder.bytesSeen === 0) throw fatal('EMPTY_FILE', `'${opts.fileName}' is empty (0 bytes).`);
    reader.finish(lastByte === 0x0a || lastByte === 0x0d);
    const batch = reader.takeBatch();
    if (batch) yield batch;
    return reader.summary(decoder.encoding ?? 'utf-8');
  } catch (err) {
    if (err instanceof RosterFileError) return reader.summary(decoder.encoding ?? 'utf-8', err.finding);
    throw err;
  }
}

const count = (n: number): string => n.toLocaleString('en-US');

function malformed(err: CsvParseError, row: number): RosterFileError {
  const place = { rowNumber: row };
  const unclosedQuote = (): RosterFileError =>
    fatal(
      'MALFORMED_CSV',
      'A double quote opened on this row is never closed, so the rest of the file reads as one value.',
      place,
    );
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return unclosedQuote();
    case 'CSV_MAX_RECORD_SIZE':
      if (err.quoting) return unclosedQuote();
      return fatal(
        'ROW_TOO_LARGE',
        `The row is more than ${count(MAX_RECORD_CHARS)} characters long with no line break, where a roster row has a few hundred.`,
        place,
      );
    case 'CSV_TOO_MANY_CELLS':
      return fatal(
        'ROW_TOO_LARGE',
        `The row has more than ${count(MAX_RECORD_CELLS)} values (a spreadsheet has at most 16,384 columns).`,
        place,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
      return fatal(
        'MALFORMED_CSV',
        'A quoted value is followed by more text before the next comma (like "Smith"Jr).',
        place,
      );
    default:
      return fatal('MALFORMED_CSV', `The row cannot be read as CSV (${err.message}).`, place);
  }
}

/** Counts line breaks inside the cells (quoted values), \r\n counting as one. */
function lineBreaks(cells: readonly string[]): number {
  let n = 0;
  for (const cell of cells) {
    if (cell.length === 0 || (cell.indexOf('\n') === -1 && cell.indexOf('\r') === -1)) continue;
    for (let i = 0; i < cell.length; i++) {
      const c = cell.charCodeAt(i);
      if (c === 10) n++;
      else if (c === 13) {
        n++;
        if (cell.charCodeAt(i + 1) === 10) i++;
      }
    }
  }
  return n;
}

/** U+FFFD, which the decoder puts in place of bytes that are not UTF-8 once the file mixes encodings. */
function hasReplacementCharacter(cells: readonly string[]): boolean {
  for (const cell of cells) if (cell.includes('\uFFFD')) return true;
  return false;
}

function isBlank(cells: readonly string[]): boolean {
  for (const cell of cells) if (cell.length > 0 && cell.trim().length > 0) return false;
  return true;
}

/** The line's non-empty values joined by ", ", at most `max` characters (a line may hold a megabyte). */
function lineText(cells: readonly string[], max: number): string {
  let text = '';
  for (const cell of cells) {
    if (text.length >= max) break;
    if (cell.trim().length === 0) continue;
    text += (text.length > 0 ? ', ' : '') + cell.slice(0, max);
  }
  return text.slice(0, max);
}

/** Everything the reader knows between chunks: header plan, counts, the batch being filled. */
class RosterReadState {
  /** First line of the next record. */
  nextLine = 1;
  private plan: ColumnPlan | null = null;
  private validator: RosterRowValidator | null = null;
  private beforeHeader: Array<{ cells: string[]; row: number }> = [];
  private records: RosterRecord[] = [];
  private findings: Finding[] = [];
  private errorKeys: Array<{ rowNumber: number; key: string }> = [];
  private errorRowValues: Array<{ rowNumber: number; key: string }> = [];
  private failure: unknown = null;
  private rowsTotal = 0;
  private rowsBlank = 0;
  private rowsValid = 0;
  private rowsWithErrors = 0;
  private warningCount = 0;
  private blankRows: number[] = [];
  /** Data rows with fewer cells than the header, and the last data row read (null after a blank one). */
  private shortRows = 0;
  private lastRow: { row: number; cells: number } | null = null;

  constructor(
    private readonly opts: ReadRosterOptions,
    private readonly decoder: Pick<CsvDecoder, 'mixedEncoding' | 'endedMidCharacter' | 'encoding'>,
  ) {}

  onRecord(cells: string[]): void {
    const row = this.nextLine;
    this.nextLine += 1 + lineBreaks(cells);
    if (this.failure !== null) return;
    try {
      if (this.decoder.mixedEncoding && hasReplacementCharacter(cells)) {
        const utf16 = this.decoder.encoding === 'utf-16le' || this.decoder.encoding === 'utf-16be';
        throw fatal(
          'MIXED_ENCODING',
          utf16
            ? `At row ${row} the file stops being valid UTF-16: it holds half of a character that takes two UTF-16 units.`
            : `At row ${row} the file stops being valid UTF-8, although earlier rows were UTF-8 with accented letters.`,
          { rowNumber: row },
        );
      }
      if (this.plan === null) this.seekHeader(cells, row);
      else this.dataRow(cells, row);
    } catch (err) {
      // Thrown out of the parser's callback it would be lost or wrapped; re-thrown after the chunk.
      this.failure = err;
    }
  }

  throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  fileWarning(finding: Finding): void {
    this.findings.push(finding);
    this.warningCount++;
  }

  takeBatch(): RosterBatch | null {
    if (this.records.length === 0 && this.findings.length === 0) return null;
    const batch = {
      records: this.records,
      findings: this.findings,
      errorKeys: this.errorKeys,
      errorRowValues: this.errorRowValues,
    };
    this.records = [];
    this.findings = [];
    this.errorKeys = [];
    this.errorRowValues = [];
    return batch;
  }

  /** End of file: settle the header if still pending, then the file-level checks. */
  finish(endsWithLineBreak: boolean): void {
    if (this.plan === null) {
      const [first, ...rest] = this.beforeHeader;
      if (!first) {
        throw fatal('EMPTY_FILE', `'${this.opts.fileName}' has no header row and no data, only blank lines.`);
      }
      this.adoptHeader(first.cells, first.row, []);
      for (const line of rest) this.dataRow(line.cells, line.row);
      this.throwIfFailed();
    }
    this.refuseCutOff(endsWithLineBreak);
    if (this.rowsValid + this.rowsWithErrors === 0) {
      throw fatal(
        'HEADER_ONLY',
        `'${this.opts.fileName}' has a header row but no data rows, so nothing was changed and nobody was archived.`,
      );
    }
    if (this.rowsBlank > 0) {
      const listed = this.blankRows.join(', ') + (this.rowsBlank > this.blankRows.length ? ', ...' : '');
      this.fileWarning(
        makeFinding(
          'BLANK_ROWS_SKIPPED',
          `Skipped ${this.rowsBlank} blank row${this.rowsBlank > 1 ? 's' : ''} (row ${listed}).`,
        ),
      );
    }
  }

  /**
   * A file cut off by an interrupted upload or export ends without a line break, in the middle of
   * its last row: a short row where every other row was whole, or half a character. Applying it
   * would store cut values and archive the people whose rows were lost, so it is fatal. (A file that
   * merely lacks the final line break, or an export that leaves out trailing empty cells on many
   * rows, is read as usual.)
   */
  private refuseCutOff(endsWithLineBreak: boolean): void {
    const last = this.lastRow;
    const width = this.plan?.width ?? 0;
    if (this.decoder.endedMidCharacter) {
      throw fatal(
        'TRUNCATED_FILE',
        `The file ends in the middle of a character${last ? ` on row ${last.row}` : ''}: it was cut off.`,
        { rowNumber: last?.row ?? null },
      );
    }
    if (!endsWithLineBreak && last && last.cells < width && this.shortRows === 1) {
      throw fatal(
        'TRUNCATED_FILE',
        `The file ends in the middle of row ${last.row}: the row has ${last.cells} of the header's ${width} columns and no line break after it, while every other row is whole.`,
        { rowNumber: last.row },
      );
    }
  }

  summary(encoding: string, fatalFinding?: Finding): ReadSummary {
    return {
      rowsTotal: this.rowsTotal,
      rowsBlank: this.rowsBlank,
      rowsValid: this.rowsValid,
      rowsWithErrors: this.rowsWithErrors,
      warningCount: this.warningCount,
      encoding,
      headers: this.plan?.headers ?? [],
      ...(fatalFinding ? { fatal: fatalFinding } : {}),
    };
  }

  /**
   * The header is the first line naming at least two known columns; non-blank lines before it are
   * metadata (report titles, export banners) and are skipped with a warning.
   */
  private seekHeader(cells: string[], row: number): void {
    if (isBlank(cells)) return;
    if (headerScore(cells) >= 2) {
      this.adoptHeader(cells, row, this.beforeHeader);
      this.beforeHeader = [];
      return;
    }
    this.beforeHeader.push({ cells, row });
    if (this.beforeHeader.length >= MAX_LINES_BEFORE_HEADER) {
      // The search is bounded: no recognisable header near the top ends the read here.
      const first = this.beforeHeader[0];
      throw fatal(
        'HEADER_NOT_FOUND',
        `None of the first ${MAX_LINES_BEFORE_HEADER} non-blank lines (rows ${first.row} to ${row}) is a header row: none names two of the template's columns (${TEMPLATE_HEADERS.join(', ')}) in its first ${count(MAX_HEADER_CELLS)} values. Row ${first.row} reads ${quoteValue(lineText(first.cells, 255))}.`,
        { rowNumber: first.row, value: lineText(first.cells, 255) },
      );
    }
  }

  private adoptHeader(cells: string[], row: number, metadata: Array<{ cells: string[]; row: number }>): void {
    for (const line of metadata) {
      const text = lineText(line.cells, 255);
      this.fileWarning(
        makeFinding(
          'METADATA_LINE_SKIPPED',
          `Line '${text.slice(0, 80)}' above the header row was skipped.`,
          {
            rowNumber: line.row,
            value: text.slice(0, 255),
          },
        ),
      );
    }
    const plan = planColumns(cells, row, this.opts.matchingKey);
    this.plan = plan;
    this.validator = new RosterRowValidator(plan, this.opts.matchingKey, this.opts.schools);
    for (const warning of plan.warnings) this.fileWarning(warning);
  }

  private dataRow(cells: string[], row: number): void {
    this.rowsTotal++;
    if (isBlank(cells)) {
      this.lastRow = null;
      this.rowsBlank++;
      if (this.blankRows.length < BLANK_ROWS_LISTED) this.blankRows.push(row);
      return;
    }
    this.lastRow = { row, cells: cells.length };
    if (cells.length < this.plan!.width) this.shortRows++;
    const before = this.findings.length;
    const record = this.validator!.validate(cells, row, this.findings);
    for (let i = before; i < this.findings.length; i++) {
      if (this.findings[i].severity === 'warning') this.warningCount++;
    }
    if (record) {
      this.rowsValid++;
      this.records.push(record);
    } else {
      this.rowsWithErrors++;
      const key = this.validator!.rejectedKey;
      if (key !== null) this.errorKeys.push({ rowNumber: row, key });
      for (const value of this.validator!.rejectedValues)
        this.errorRowValues.push({ rowNumber: row, key: value });
    }
  }
}
