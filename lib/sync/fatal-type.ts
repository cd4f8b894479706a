import { FailureType } from '../contracts/sync';

/** The failure type a run fails with when the reader finds the file unusable as a whole. */
export function fatalFailureType(code: string): FailureType {
  switch (code) {
    case 'EMPTY_FILE':
    case 'HEADER_ONLY':
      return FailureType.EmptyFile;
    // HEADER_NOT_FOUND: no line at the file's start is a header with the template's columns; as
    // with a header that lacks required columns, the district's export has to change.
    case 'MISSING_REQUIRED_COLUMN':
    case 'DUPLICATE_COLUMN':
    case 'HEADER_NOT_FOUND':
      return FailureType.MissingColumns;
    default:
      return FailureType.UnsupportedFile;
  }
}
