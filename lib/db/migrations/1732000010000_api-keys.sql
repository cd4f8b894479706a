-- Up Migration

-- Per-district API keys: a key reaches only its own district's routes (the operator's API_TOKEN
-- reaches everything). The key itself is never stored: only its SHA-256 and its first characters
-- (prefix), which tell keys apart in lists and let a presented key find its row without the
-- database ever comparing secrets.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id  uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  label        text,
  prefix       text NOT NULL,
  key_hash     bytea NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_district ON api_keys (district_id, created_at);

-- Down Migration
DROP TABLE api_keys;
