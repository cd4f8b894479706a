-- Up Migration

-- Staged custom columns stay JSON text until a row is actually written to users: an unchanged row
-- (most rows of most runs) never needs them parsed, and parsing jsonb was close to half the cost of
-- COPYing a million rows into staging.
ALTER TABLE stage_rows ALTER COLUMN custom DROP DEFAULT;
ALTER TABLE stage_rows ALTER COLUMN custom TYPE text USING custom::text;
ALTER TABLE stage_rows ALTER COLUMN custom SET DEFAULT '{}';

-- Down Migration
ALTER TABLE stage_rows ALTER COLUMN custom DROP DEFAULT;
ALTER TABLE stage_rows ALTER COLUMN custom TYPE jsonb USING custom::jsonb;
ALTER TABLE stage_rows ALTER COLUMN custom SET DEFAULT '{}';
