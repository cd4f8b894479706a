import { z } from 'zod';
import { closestMatch, nearest, sharedWordMatch } from './closest-match';
import {
  ID_FIELDS,
  KEY_FIELD,
  MAX_CUSTOM_VALUE,
  MAX_KNOWN_VALUE,
  type KnownField,
  headerOf,
} from './roster-columns';
import { makeFinding, quoteValue } from './roster-findings';
import type { MatchingKey } from '../contracts/sync-config';
import type { Finding, RosterRecord } from './roster-record';
import { DISTRICT_WIDE_ROLES, ROLES, type Role, canonicalRole, normalizeRole } from './roster-roles';
import type { ColumnPlan } from './roster-header';
import { isUuid } from '../contracts/uuid';

/**
 * Turns one data row into a RosterRecord, or into row errors. This is the hot path (hundreds of
 * thousands of rows per second), so the checks are hand-written rather than a zod object parse;
 * the email check reuses zod's own email pattern so the API and the file agree on what an email is.
 * Every problem of a row is reported, not just the first, so one round of fixes is enough.
 */
const EMAIL = z.regexes.email;
/** Excel's rendering of a long number it could not keep: 1.23457E+11, 4E+12. */
const SCIENTIFIC = /^\d(?:\.\d+)?E\+\d{1,3}$/i;
/** Digits, spaces, + - . ( ) and an optional extension (at least 3 digits, counted separately). */
const PHONE = /^\+?[\d\s().-]+(?:(?:x|ext\.?)\s*\d{1,6})?$/i;

function digitCount(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** Remembered school suggestions, so a thousand rows with the same bad school cost one lookup. */
const SUGGESTION_CACHE_LIMIT = 10_000;
/**
 * School names a file may compare its unknown schools with, in all: each comparison is bounded
 * (closest-match), and this bounds their number, so a file of thousands of different unknown
 * schools against a district of many schools costs a fraction of a second. Past it, an unknown
 * school is still reported, without a suggestion.
 */
const SUGGESTION_COMPARISONS = 10_000;

const normalizeSchool = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();

export class RosterRowValidator {
  private readonly schools: ReadonlySet<string>;
  private readonly schoolList: readonly string[];
  private readonly suggestions = new Map<string, string>();
  private suggestionComparisonsLeft = SUGGESTION_COMPARISONS;
  private readonly keyField: KnownField;
  private readonly idx: ColumnPlan['index'];

  constructor(
    private readonly plan: ColumnPlan,
    matchingKey: MatchingKey,
    schools: readonly string[],
  ) {
    this.schools = new Set(schools);
    this.schoolList = [...this.schools];
    this.keyField = KEY_FIELD[matchingKey];
    this.idx = plan.index;
  }

  // Per-row state, kept on the instance so the hot path allocates no closures.
  private cells: readonly string[] = [];
  private rowNumber = 0;
  private out: Finding[] = [];
  private errors = 0;
  /** After `validate` returned null: the row's matching-key value, if it had a usable one. */
  rejectedKey: string | null = null;
  /**
   * After `validate` returned null: the row's other values that could be someone's key (normalised
   * like a key). A skipped row may hold its key in the wrong column (an unquoted comma shifts every
   * value), so each of them keeps the user it names from being archived; they never name anyone
   * for anything else.
   */
  rejectedValues: string[] = [];

  private error(code: string, problem: string, column: string | null, value: string | null): void {
    this.out.push(makeFinding(code, problem, { rowNumber: this.rowNumber, column, value }));
    this.errors++;
  }

  private warn(code: string, problem: string, column: string | null, value: string | null): void {
    this.out.push(makeFinding(code, problem, { rowNumber: this.rowNumber, column, value }));
  }

  private read(field: KnownField): string {
    const i = this.idx[field];
    if (i < 0 || i >= this.cells.length) return '';
    const value = this.cells[i].trim();
    if (value.length > MAX_KNOWN_VALUE) {
      this.error(
        'VALUE_TOO_LONG',
        `${headerOf(field)} is ${value.length} characters long (at most ${MAX_KNOWN_VALUE}): ${quoteValue(value)}.`,
        headerOf(field),
        value.slice(0, MAX_KNOWN_VALUE),
      );
    }
    return value;
  }

  /** Pushes the row's findings to `out`; returns the record, or null when the row has an error. */
  validate(cells: readonly string[], rowNumber: number, out: Finding[]): RosterRecord | null {
    this.cells = cells;
    this.rowNumber = rowNumber;
    this.out = out;
    this.errors = 0;

    const firstName = this.read('firstName');
    const lastName = this.read('lastName');
    const email = this.read('email').toLowerCase();
    const internalId = this.read('internalId');
    const accountingId = this.read('accountingId');
    const cleverId = this.read('cleverId');
    const platformId = this.read('platformId');
    const roleText = this.read('role');
    const schoolText = this.read('school');
    const coachText = this.read('coachEmail').toLowerCase();
    const phoneText = this.read('phone');

    if (firstName.length === 0)
      this.error('MISSING_REQUIRED_VALUE', 'First Name is empty.', 'First Name', '');
    if (lastName.length === 0) this.error('MISSING_REQUIRED_VALUE', 'Last Name is empty.', 'Last Name', '');

    const ids: Record<string, string> = { internalId, accountingId, cleverId, platformId, email };
    this.checkIds(ids);
    const role = this.checkRole(roleText);
    const school = this.checkSchool(schoolText, role);
    const coachEmail = this.checkCoachEmail(coachText);
    const phone = this.checkPhone(phoneText);
    const custom = this.readCustom(cells);
    this.checkUnnamedCells(cells);
    this.checkWidth(cells);

    if (this.errors > 0 || role === undefined) {
      const key = ids[this.keyField];
      this.rejectedKey = key.length > 0 && key.length <= MAX_KNOWN_VALUE ? key : null;
      this.rejectedValues = this.keyLikeValues(cells, this.rejectedKey);
      return null;
    }
    return {
      rowNumber,
      firstName,
      lastName,
      email: email.length > 0 ? email : null,
      internalId: internalId.length > 0 ? internalId : null,
      accountingId: accountingId.length > 0 ? accountingId : null,
      cleverId: cleverId.length > 0 ? cleverId : null,
      platformId: platformId.length > 0 ? platformId : null,
      role,
      school,
      coachEmail,
      phone,
      custom,
    };
  }

  /** The matching key is there, Platform ID and Email are well formed, no ID was rounded by a spreadsheet. */
  private checkIds(ids: Record<string, string>): void {
    if (ids[this.keyField].length === 0) {
      const header = headerOf(this.keyField);
      this.error(
        'MISSING_KEY',
        `${header} is empty, and ${header} is the matching key of this sync.`,
        header,
        '',
      );
    }
    if (this.keyField === 'platformId' && ids.platformId.length > 0 && !isUuid(ids.platformId)) {
      this.error(
        'INVALID_PLATFORM_ID',
        `Platform ID ${quoteValue(ids.platformId)} is not a rostersync user id.`,
        'Platform ID',
        ids.platformId,
      );
    }
    const email = ids.email;
    if (email.length > 0 && email.length <= MAX_KNOWN_VALUE && !EMAIL.test(email)) {
      this.error('INVALID_EMAIL', `Email ${quoteValue(email)} is not a valid email address.`, 'Email', email);
    }
    for (const field of ID_FIELDS) {
      const value = ids[field];
      if (value.length > 0 && value.length <= MAX_KNOWN_VALUE && SCIENTIFIC.test(value)) {
        this.error(
          'SCIENTIFIC_NOTATION_ID',
          `${headerOf(field)} ${quoteValue(value)} is in scientific notation; a spreadsheet program rounded the ID.`,
          headerOf(field),
          value,
        );
      }
    }
  }

  /** The row's canonical role; undefined (with an error) when it is empty or unknown. */
  private checkRole(roleText: string): string | undefined {
    let role: string | undefined;
    if (roleText.length === 0) {
      this.error('MISSING_REQUIRED_VALUE', 'Role is empty.', 'Role', '');
    } else {
      // A value longer than any value may be is no role, and is neither looked up nor remembered:
      // ten thousand cached megabyte-long "roles" would fill the memory.
      role = roleText.length <= MAX_KNOWN_VALUE ? this.role(roleText) : undefined;
      if (role === undefined) {
        const near = roleText.length <= MAX_KNOWN_VALUE ? closestMatch(roleText, ROLES, normalizeRole) : null;
        this.error(
          'UNKNOWN_ROLE',
          `Role ${quoteValue(roleText)} is not a known role${near ? `; did you mean '${near}'?` : '.'}`,
          'Role',
          roleText,
        );
      }
    }
    return role;
  }

  /** The row's school, checked against the district's; null for district-wide roles. */
  private checkSchool(schoolText: string, role: string | undefined): string | null {
    let school: string | null = null;
    if (role !== undefined && DISTRICT_WIDE_ROLES.has(role)) {
      // District-wide roles see every school; a School value on their row is ignored.
      school = null;
    } else if (schoolText.length === 0) {
      if (role !== undefined) {
        this.error('MISSING_SCHOOL', `School is empty, and a ${role} must belong to a school.`, 'School', '');
      }
    } else if (this.schools.has(schoolText)) {
      school = schoolText;
    } else if (schoolText.length <= MAX_KNOWN_VALUE) {
      this.error(
        'UNKNOWN_SCHOOL',
        `School ${quoteValue(schoolText)} does not exist in this district${this.suggestSchool(schoolText)}`,
        'School',
        schoolText,
      );
    }
    return school;
  }

  /** An invalid Coach Email is a warning and is dropped. */
  private checkCoachEmail(coachText: string): string | null {
    let coachEmail: string | null = null;
    if (coachText.length > 0 && coachText.length <= MAX_KNOWN_VALUE) {
      if (EMAIL.test(coachText)) coachEmail = coachText;
      else
        this.warn(
          'INVALID_COACH_EMAIL',
          `Coach Email ${quoteValue(coachText)} is not a valid email address; it was ignored.`,
          'Coach Email',
          coachText,
        );
    }
    return coachEmail;
  }

  /** An invalid Phone is a warning and is dropped. */
  private checkPhone(phoneText: string): string | null {
    let phone: string | null = null;
    if (phoneText.length > 0 && phoneText.length <= MAX_KNOWN_VALUE) {
      if (PHONE.test(phoneText) && digitCount(phoneText) >= 3) phone = phoneText;
      else
        this.warn(
          'INVALID_PHONE',
          `Phone ${quoteValue(phoneText)} is not a phone number; it was ignored.`,
          'Phone',
          phoneText,
        );
    }
    return phone;
  }

  /** The row's custom columns, by header; a value over MAX_CUSTOM_VALUE is an error. */
  private readCustom(cells: readonly string[]): Record<string, string> {
    const custom: Record<string, string> = {};
    for (const { index, key } of this.plan.custom) {
      const value = index < cells.length ? cells[index].trim() : '';
      if (value.length > MAX_CUSTOM_VALUE) {
        this.error(
          'VALUE_TOO_LONG',
          `${key} is ${value.length} characters long (at most ${MAX_CUSTOM_VALUE} in a custom column): ${quoteValue(value)}.`,
          key,
          value.slice(0, MAX_CUSTOM_VALUE),
        );
      }
      custom[key] = value;
    }
    return custom;
  }

  /** One warning per row, however many header-less cells it fills: the first names the place. */
  private checkUnnamedCells(cells: readonly string[]): void {
    let unnamedFirst = -1;
    let unnamedCount = 0;
    for (const index of this.plan.unnamed) {
      if (index < cells.length && cells[index].trim().length > 0) {
        if (unnamedFirst < 0) unnamedFirst = index;
        unnamedCount++;
      }
    }
    if (unnamedFirst >= 0) {
      const value = cells[unnamedFirst].trim();
      const more =
        unnamedCount > 1
          ? ` (and ${unnamedCount - 1} more value${unnamedCount > 2 ? 's' : ''} in columns without a header)`
          : '';
      this.warn(
        'UNNAMED_COLUMN_VALUE',
        `Value ${quoteValue(value)} is in column ${unnamedFirst + 1}, which has no header${more}; it was ignored.`,
        null,
        value,
      );
    }
  }

  /** A value past the header's last column is an error; a short row is a warning. */
  private checkWidth(cells: readonly string[]): void {
    const width = this.plan.width;
    if (cells.length > width) {
      for (let i = width; i < cells.length; i++) {
        const value = cells[i].trim();
        if (value.length > 0) {
          this.error(
            'CELLS_BEYOND_HEADER',
            `The row has ${cells.length} values but the header only ${width} columns; value ${quoteValue(value)} is in column ${i + 1}, past the last header.`,
            null,
            value,
          );
          break;
        }
      }
    } else if (cells.length < width) {
      this.warn(
        'TOO_FEW_CELLS',
        `The row has ${cells.length} values but the header has ${width} columns; the missing values were treated as empty.`,
        null,
        null,
      );
    }
  }

  /** Every distinct value of the row (but `except`) that could be a matching key, normalised like one. */
  private keyLikeValues(cells: readonly string[], except: string | null): string[] {
    const out = new Set<string>();
    for (const cell of cells) {
      let value = cell.trim();
      if (value.length === 0 || value.length > MAX_KNOWN_VALUE) continue;
      if (this.keyField === 'email') {
        if (!value.includes('@')) continue;
        value = value.toLowerCase();
      } else if (this.keyField === 'platformId') {
        value = value.toLowerCase();
      }
      if (value !== except) out.add(value);
    }
    return [...out];
  }

  /** Role spellings seen so far, so the common ones skip normalisation. */
  private readonly roleCache = new Map<string, Role | undefined>();

  private role(value: string): Role | undefined {
    if (this.roleCache.has(value)) return this.roleCache.get(value);
    const role = canonicalRole(value);
    if (this.roleCache.size < SUGGESTION_CACHE_LIMIT) this.roleCache.set(value, role);
    return role;
  }

  /**
   * The end of the UNKNOWN_SCHOOL message: always names the closest existing school, as a suggestion
   * when it is a likely typo or shares a distinctive word, otherwise only as the nearest name.
   */
  private suggestSchool(value: string): string {
    const cached = this.suggestions.get(value);
    if (cached !== undefined) return cached;
    if (this.suggestionComparisonsLeft < this.schoolList.length) return '.';
    this.suggestionComparisonsLeft -= this.schoolList.length;
    const likely =
      closestMatch(value, this.schoolList, normalizeSchool) ??
      sharedWordMatch(value, this.schoolList, normalizeSchool);
    const farthest = likely === null ? nearest(value, this.schoolList, normalizeSchool) : null;
    const text = likely
      ? `; did you mean '${likely}'?`
      : farthest
        ? `, and no school of the district has a similar name (the nearest is '${farthest}').`
        : ', which has no schools yet.';
    if (this.suggestions.size < SUGGESTION_CACHE_LIMIT) this.suggestions.set(value, text);
    return text;
  }
}
