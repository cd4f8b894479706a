import { FailureType } from '../contracts/sync';

/** The failure type a run fails with when the reader finds the file unusable as a whole. */
export function fatalFailureType(code: string): FailureType {
  switch (code) {
    case 'EMPTY_FILE':
    case 'HEADER_ONLY':
      return FailureType.EmptyFile;
    case 'MISSING_REQUIRED_COLUMN':
    case 'DUPLICATE_COLUMN':
      return FailureType.MissingColumns;
    default:
      return FailureType.UnsupportedFile;
  }
}
