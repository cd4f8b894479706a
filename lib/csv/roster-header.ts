import { editDistance, typoBudget } from './closest-match';
import {
  KEY_FIELD,
  KNOWN_COLUMNS,
  MAX_CUSTOM_COLUMNS,
  MAX_HEADER_CELLS,
  MAX_HEADER_CHARS,
  type KnownColumn,
  type KnownField,
  headerOf,
  knownColumn,
  normalizeHeader,
  requiredFields,
  withoutSurroundingQuotes,
} from './roster-columns';
import { fatal, makeFinding, quoteValue } from './roster-findings';
import type { MatchingKey } from '../contracts/sync-config';
import type { Finding } from './roster-record';

/**
 * Maps a header row to the known columns and custom fields, and decides whether a line is a header
 * at all (the reader uses `headerScore` to skip metadata lines such as "Exported from SIS on ...").
 */
export interface ColumnPlan {
  /** Header cells as written (surrounding spaces removed), up to the last non-empty one. */
  headers: string[];
  /** Cells at or beyond this index have no header. */
  width: number;
  /** Column index of each known field present, -1 when absent. */
  index: Record<KnownField, number>;
  custom: Array<{ index: number; key: string }>;
  /** Columns inside the header whose header cell is empty. */
  unnamed: number[];
  warnings: Finding[];
}

/** Cleans a header for display and as a custom field's key: no surrounding spaces or quotes. */
function cleanHeader(cell: string): string {
  return withoutSurroundingQuotes(cell.replace(/^\uFEFF/, '').trim()).trim();
}

/** Known columns, or near misses of them, in a line: a real header row has at least two. */
export function headerScore(cells: readonly string[]): number {
  let score = 0;
  const scored = Math.min(cells.length, MAX_HEADER_CELLS);
  for (let i = 0; i < scored; i++) {
    const cell = cells[i];
    // Longer than any header, so no column's name: not worth normalising.
    if (cleanHeader(cell).length > MAX_HEADER_CHARS) continue;
    const norm = normalizeHeader(cell);
    if (norm.length === 0) continue;
    if (knownColumn(cell) || nearestKnown(norm, KNOWN_COLUMNS) !== null) score++;
  }
  return score;
}

function nearestKnown(norm: string, candidates: readonly KnownColumn[]): KnownColumn | null {
  let best: KnownColumn | null = null;
  let bestDistance = Infinity;
  for (const column of candidates) {
    const target = normalizeHeader(column.header);
    const budget = typoBudget(Math.min(norm.length, target.length));
    const d = editDistance(norm, target, budget);
    if (d <= budget && d < bestDistance) {
      best = column;
      bestDistance = d;
    }
  }
  return best;
}

const columnLetter = (index: number): string => {
  let n = index + 1;
  let s = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
};

export function planColumns(
  cells: readonly string[],
  headerRow: number,
  matchingKey: MatchingKey,
): ColumnPlan {
  let width = cells.length;
  while (width > 0 && cleanHeader(cells[width - 1]).length === 0) width--;
  if (width > MAX_HEADER_CELLS) {
    throw fatal(
      'HEADER_TOO_LARGE',
      `The header row has ${width} columns (at most ${MAX_HEADER_CELLS} are read: the template's, up to ${MAX_CUSTOM_COLUMNS} custom columns and empty ones).`,
      { rowNumber: headerRow },
    );
  }
  const headers = cells.slice(0, width).map(cleanHeader);
  // Checked before any header is matched, so no normalisation ever runs on a runaway header.
  const long = headers.findIndex((h) => h.length > MAX_HEADER_CHARS);
  if (long >= 0) {
    throw fatal(
      'HEADER_TOO_LARGE',
      `The header of column ${columnLetter(long)} is ${headers[long].length} characters long (at most ${MAX_HEADER_CHARS}): ${quoteValue(headers[long])}.`,
      { rowNumber: headerRow, value: headers[long].slice(0, MAX_HEADER_CHARS) },
    );
  }
  const index = Object.fromEntries(KNOWN_COLUMNS.map((c) => [c.field, -1])) as Record<KnownField, number>;
  const custom: ColumnPlan['custom'] = [];
  const unnamed: number[] = [];
  const unknown: Array<{ index: number; header: string }> = [];
  const customKeys = new Set<string>();

  headers.forEach((header, i) => {
    if (header.length === 0) {
      unnamed.push(i);
      return;
    }
    const column = knownColumn(header);
    if (column) {
      const first = index[column.field];
      if (first !== -1) {
        throw fatal(
          'DUPLICATE_COLUMN',
          `Columns ${columnLetter(first)} ('${headers[first]}') and ${columnLetter(i)} ('${header}') are both the ${column.header} column.`,
          { rowNumber: headerRow, column: column.header, value: header },
        );
      }
      index[column.field] = i;
      return;
    }
    unknown.push({ index: i, header });
  });

  if (unknown.length > MAX_CUSTOM_COLUMNS) {
    throw fatal(
      'HEADER_TOO_LARGE',
      `The header row has ${unknown.length} columns besides the template's (at most ${MAX_CUSTOM_COLUMNS} custom columns are kept), from ${quoteValue(unknown[0].header)} to ${quoteValue(unknown[unknown.length - 1].header)}.`,
      { rowNumber: headerRow },
    );
  }

  // Custom fields keep their header as written; a repeated header gets its column letter so no value is lost.
  for (const { index: i, header } of unknown) {
    const key = customKeys.has(header) ? `${header} (${columnLetter(i)})` : header;
    customKeys.add(key);
    custom.push({ index: i, key });
  }

  // Near misses are only suggested for known columns the file does not already have.
  const absent = KNOWN_COLUMNS.filter((c) => index[c.field] === -1);
  const suggestions = new Map<KnownField, string>();
  const warnings: Finding[] = [];
  for (const { header } of unknown) {
    const near = nearestKnown(normalizeHeader(header), absent);
    if (!near) continue;
    if (!suggestions.has(near.field)) suggestions.set(near.field, header);
    warnings.push(
      makeFinding(
        'UNKNOWN_COLUMN_SUGGESTION',
        `Column '${header}' is not a known column; did you mean '${near.header}'? It was kept as a custom field.`,
        { rowNumber: headerRow, column: header, value: header },
      ),
    );
  }

  const missing = requiredFields(matchingKey).filter((field) => index[field] === -1);
  if (missing.length > 0) {
    const keyField = KEY_FIELD[matchingKey];
    const parts = missing.map((field) => {
      const why = field === keyField ? ' (the matching key of this sync)' : '';
      const near = suggestions.get(field);
      return near
        ? `'${headerOf(field)}'${why} — column '${near}' looks like it; did you mean '${headerOf(field)}'?`
        : `'${headerOf(field)}'${why}`;
    });
    const found = headers.filter((h) => h.length > 0).map((h) => `'${h}'`);
    throw fatal(
      'MISSING_REQUIRED_COLUMN',
      `The header row (row ${headerRow}) is missing required column${missing.length > 1 ? 's' : ''} ${parts.join('; ')}. Columns found: ${found.length > 0 ? found.join(', ') : 'none'}.`,
      { rowNumber: headerRow, column: missing.map(headerOf).join(', ') },
    );
  }

  return { headers, width, index, custom, unnamed, warnings };
}
