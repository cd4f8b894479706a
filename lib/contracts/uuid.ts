/**
 * A UUID as Postgres prints one: the ids of districts, runs, users and keys. One definition for the
 * checks in TypeScript and, as `UUID_SQL_PATTERN`, for SQL regular expressions over lower-cased text.
 */
export const UUID_SQL_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const UUID = new RegExp(UUID_SQL_PATTERN, 'i');

export const isUuid = (value: string): boolean => UUID.test(value);
