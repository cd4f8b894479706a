/**
 * Postgres COPY text format, written by hand: it is the fastest way to move a million rows from
 * the reader into staging (no CSV quoting pass on the server, one string per batch).
 */
const NUL = String.fromCharCode(0);

function needsEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // backslash, newline, carriage return, tab, NUL (Postgres text cannot hold NUL: it is dropped)
    if (c === 92 || c === 10 || c === 13 || c === 9 || c === 0) return true;
  }
  return false;
}

export function copyValue(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const text = String(value);
  if (!needsEscape(text)) return text;
  return text
    .split(NUL)
    .join('')
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
}

export function copyLine(values: ReadonlyArray<string | number | boolean | null | undefined>): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i === 0 ? '' : '\t') + copyValue(values[i]);
  return line + '\n';
}
