import { CONNECTION_ERROR_CODES } from './connection-error-codes';
import type { Severity } from './roster-record';
import { TEMPLATE_HEADERS } from './roster-columns';

/**
 * The error dictionary: every finding the CSV reader (and staging, for within-file duplicates) can
 * report, and every problem Test Connection finds on the way to the file (connection-error-codes.ts),
 * with a stable code, its severity and how a district admin fixes it. Served as-is by the
 * API and mirrored in docs/error-codes.md (a unit test keeps the two in step).
 *
 * Severity: fatal = the file as a whole cannot be used, nothing is applied; error = the row is
 * skipped, everything else in the file still applies; warning = a value was dropped or something
 * was tolerated, the row is kept.
 */
export interface ErrorCodeEntry {
  code: string;
  severity: Severity;
  title: string;
  fix: string;
}

export const ERROR_CODES: ReadonlyArray<ErrorCodeEntry> = Object.freeze([
  // File-level problems: nothing from the file is applied.
  {
    code: 'UNSUPPORTED_FILE',
    severity: 'fatal',
    title: 'The file is not a CSV text file (an Excel workbook, a zip archive, a PDF or other binary data).',
    fix: "Open the file in your spreadsheet program, choose Save As > 'CSV UTF-8 (Comma delimited) (*.csv)' and upload the saved file.",
  },
  {
    code: 'EMPTY_FILE',
    severity: 'fatal',
    title: 'The file is empty: it has no header row and no data.',
    fix: 'Check that your export wrote data before the upload; re-run the export and upload the new file.',
  },
  {
    code: 'HEADER_ONLY',
    severity: 'fatal',
    title:
      'The file has a header row but no data rows. Nobody is archived: an empty export is treated as a mistake.',
    fix: 'Check the export’s filters or query; every active user must be in every file you send.',
  },
  {
    code: 'MISSING_REQUIRED_COLUMN',
    severity: 'fatal',
    title:
      'A required column is missing from the header row (First Name, Last Name, Role and the matching key’s column).',
    fix: 'Add the column with exactly this header (case, spaces, dashes and underscores do not matter), or fix the misspelled header the message suggests.',
  },
  {
    code: 'DUPLICATE_COLUMN',
    severity: 'fatal',
    title: 'Two columns of the header row map to the same known column, so it is unclear which one to use.',
    fix: 'Delete or rename one of the two columns.',
  },
  {
    code: 'TRUNCATED_FILE',
    severity: 'fatal',
    title:
      'The file ends in the middle of a row: the upload or the export was cut off. Nothing is applied, so nobody whose row was lost is archived.',
    fix: 'Upload the complete file again, after checking that the export finished and the transfer completed. If the last row is complete, give it all its columns (empty ones as commas) or end the file with a line break.',
  },
  {
    code: 'HEADER_TOO_LARGE',
    severity: 'fatal',
    title:
      'The header row is larger than a roster’s: more than 200 columns besides the template’s, or a header longer than 255 characters.',
    fix: 'Export only the template’s columns and the custom fields you want kept (at most 200), each with a header of at most 255 characters; check that the header row is the first row of the file.',
  },
  {
    code: 'MALFORMED_CSV',
    severity: 'fatal',
    title:
      'The file cannot be read as CSV from this row on, most often because of a double quote that is never closed.',
    fix: 'Open the file in a text editor at the row given, fix the stray double quote (write a literal quote as two quotes "" inside a quoted value), and upload again.',
  },
  {
    code: 'MIXED_ENCODING',
    severity: 'fatal',
    title: 'The file changes character encoding partway: the start is UTF-8 but later bytes are not.',
    fix: "Save the file as 'CSV UTF-8 (Comma delimited)' from your spreadsheet program, or set your export to write UTF-8.",
  },
  {
    code: 'HEADER_NOT_FOUND',
    severity: 'fatal',
    title:
      'No header row near the top of the file: none of the first 10 non-blank lines names two of the template’s columns.',
    fix: 'Put the header row (First Name, Last Name, Role and the matching key’s column, spelled as in the template) at the top of the file, with at most 9 lines such as a report title above it.',
  },
  {
    code: 'ROW_TOO_LARGE',
    severity: 'fatal',
    title:
      'A row is larger than any roster row (more than 1,000,000 characters or 20,000 values), so the file is not read further: usually its line breaks are missing or it is not a roster export.',
    fix: "Check that every row of the file ends with a line break and that the file is the roster export; save it again as 'CSV UTF-8 (Comma delimited)' and upload that file.",
  },
  // Row-level problems: the row is skipped, the rest of the file applies.
  {
    code: 'MISSING_KEY',
    severity: 'error',
    title:
      'The matching key’s column is empty on this row, so the user cannot be matched to an existing account.',
    fix: 'Fill in the value (the same one the user had in the previous file), or remove the row.',
  },
  {
    code: 'MISSING_REQUIRED_VALUE',
    severity: 'error',
    title: 'A required value (First Name, Last Name or Role) is empty on this row.',
    fix: 'Fill in the value in your source system and export again.',
  },
  {
    code: 'INVALID_EMAIL',
    severity: 'error',
    title: 'The Email value is not a valid email address.',
    fix: 'Correct the address (name@domain.org, no spaces, one @), or leave it empty if Email is not your matching key.',
  },
  {
    code: 'UNKNOWN_ROLE',
    severity: 'error',
    title: 'The Role value is not one of the roles the platform knows.',
    fix: 'Use one of: Teacher, Coach, School Admin, Sub Admin, System Admin, Student, Staff, Aide, Parent/Guardian.',
  },
  {
    code: 'MISSING_SCHOOL',
    severity: 'error',
    title:
      'The School value is empty, but this role belongs to a school (only Sub Admin and System Admin are district-wide).',
    fix: 'Fill in the school’s name exactly as it is written in the platform.',
  },
  {
    code: 'UNKNOWN_SCHOOL',
    severity: 'error',
    title: 'The School value does not exactly match the name of a school of the district.',
    fix: 'Use the school’s name exactly as the platform shows it (capitals and spaces included), or create the school first.',
  },
  {
    code: 'SCIENTIFIC_NOTATION_ID',
    severity: 'error',
    title:
      'An ID looks like 1.23457E+11: a spreadsheet program turned a long number into scientific notation and lost digits.',
    fix: 'In the spreadsheet, format the ID column as Text, re-enter or re-import the IDs, and save as CSV again; or export straight from your source system without opening the file in a spreadsheet.',
  },
  {
    code: 'VALUE_TOO_LONG',
    severity: 'error',
    title:
      'A value is longer than allowed (255 characters for names, emails, IDs, role, school and phone; 1,000 for custom columns).',
    fix: 'Shorten the value; a very long value usually means columns are shifted or a quote is misplaced on that row.',
  },
  {
    code: 'CELLS_BEYOND_HEADER',
    severity: 'error',
    title:
      'The row has non-empty values to the right of the last header column, usually because an unquoted comma shifted every later value into the wrong column.',
    fix: 'Put double quotes around values that contain commas (e.g. "Smith, Jr."), or remove the extra values.',
  },
  {
    code: 'INVALID_PLATFORM_ID',
    severity: 'error',
    title:
      'With Platform ID as the matching key, the Platform ID must be a rostersync user id (a UUID such as 3f2b8c1e-9a4d-4c1b-8f7e-2d5a6b7c8d9e) that is free or belongs to this district.',
    fix: 'Copy the Platform ID from the user in rostersync (or from the previous file); for a new user give a new UUID, or match by another key such as Internal ID.',
  },
  {
    code: 'DUPLICATE_KEY',
    severity: 'error',
    title:
      'The matching key’s value appears on more than one row of the file, so it is unclear which row is right.',
    fix: 'Keep one row per person; if they are two people, give each their own ID.',
  },
  {
    code: 'DUPLICATE_EMAIL',
    severity: 'error',
    title:
      'The same email address appears on more than one row of the file; an email can belong to one user only.',
    fix: 'Keep one row per person, or correct the address of the other person.',
  },
  // Warnings: the row (or file) is used; something was dropped or tolerated.
  {
    code: 'UNKNOWN_COLUMN_SUGGESTION',
    severity: 'warning',
    title: 'A column header is not a known column but is close to one; it was kept as a custom field.',
    fix: 'Rename the header to the suggested column if that is what it holds.',
  },
  {
    code: 'INVALID_COACH_EMAIL',
    severity: 'warning',
    title:
      'The Coach Email value is not a valid email address; it was ignored and the rest of the row was used.',
    fix: 'Correct the coach’s email address.',
  },
  {
    code: 'INVALID_PHONE',
    severity: 'warning',
    title:
      'The Phone value is not a phone number (only digits, spaces, + - . ( ) and an extension are allowed); it was ignored.',
    fix: 'Correct the number; if it shows as 1.2E+09, format the column as Text in your spreadsheet.',
  },
  {
    code: 'TOO_FEW_CELLS',
    severity: 'warning',
    title: 'The row has fewer values than the header has columns; the missing values were treated as empty.',
    fix: 'Usually harmless (some exports drop trailing empty values); if values look shifted, check the row for a missing comma.',
  },
  {
    code: 'UNNAMED_COLUMN_VALUE',
    severity: 'warning',
    title: 'A value sits in a column whose header is empty; it was ignored.',
    fix: 'Give the column a header if it should be kept as a custom field, or remove the values.',
  },
  {
    code: 'WINDOWS_1252_DETECTED',
    severity: 'warning',
    title:
      'The file is not UTF-8; it was read as Windows-1252 (ANSI), the usual encoding of “CSV (Comma delimited)” from Excel on Windows.',
    fix: "Check accented names in the results; to be safe, save as 'CSV UTF-8 (Comma delimited)' next time.",
  },
  {
    code: 'BLANK_ROWS_SKIPPED',
    severity: 'warning',
    title: 'Blank rows (no values at all) were skipped.',
    fix: 'Nothing to do; remove the blank rows from your export if you want a clean report.',
  },
  {
    code: 'METADATA_LINE_SKIPPED',
    severity: 'warning',
    title: 'A line above the header row (for example “Exported from SIS on …”) was skipped.',
    fix: 'Nothing to do; turn off the report title or export banner in your export settings for a clean report.',
  },
  ...CONNECTION_ERROR_CODES,
]);

const BY_CODE = new Map(ERROR_CODES.map((entry) => [entry.code, entry]));

/** The dictionary entry for a code; throws on an unknown code so a typo cannot ship silently. */
export function errorCode(code: string): ErrorCodeEntry {
  const entry = BY_CODE.get(code);
  if (!entry) throw new Error(`Unknown error code ${code}`);
  return entry;
}

export { TEMPLATE_HEADERS };
