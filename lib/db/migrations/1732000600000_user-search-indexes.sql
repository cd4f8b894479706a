-- Up Migration

-- Which run last changed (updated or reactivated) a user and which run archived it, beside
-- created_by_run: a user's page shows the runs behind it. Users written before this migration have
-- NULL until a run touches them again. (Adding a nullable column rewrites nothing.)
ALTER TABLE users ADD COLUMN changed_by_run uuid, ADD COLUMN archived_by_run uuid;

-- The user search (GET /districts/:id/users?q=) matches a case-insensitive prefix with
-- lower(col) LIKE 'prefix%'. text_pattern_ops compares bytes, so the prefix becomes an index range
-- whatever the database collation. The full name's index also serves first-name prefixes (a prefix of
-- the first name is a prefix of "first last"), so the first name needs none of its own.
CREATE INDEX users_search_full_name ON users (district_id, lower(first_name || ' ' || last_name) text_pattern_ops);
CREATE INDEX users_search_last_name ON users (district_id, lower(last_name) text_pattern_ops);
CREATE INDEX users_search_email ON users (district_id, lower(email) text_pattern_ops);
CREATE INDEX users_search_internal_id ON users (district_id, lower(internal_id) text_pattern_ops);
CREATE INDEX users_search_accounting_id ON users (district_id, lower(accounting_id) text_pattern_ops);
CREATE INDEX users_search_clever_id ON users (district_id, lower(clever_id) text_pattern_ops);
-- The platform id is the user's own id, searched by its leading characters.
CREATE INDEX users_search_platform_id ON users (district_id, (id::text) text_pattern_ops);

-- Deleting a school checks that no user belongs to it (and so does the foreign key): without this
-- index each check would read the whole users table.
CREATE INDEX users_school ON users (school_id) WHERE school_id IS NOT NULL;

-- Down Migration
DROP INDEX users_search_full_name, users_search_last_name, users_search_email, users_search_internal_id,
  users_search_accounting_id, users_search_clever_id, users_search_platform_id, users_school;
ALTER TABLE users DROP COLUMN changed_by_run, DROP COLUMN archived_by_run;
