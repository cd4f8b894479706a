-- Up Migration

-- Request counters of the API's rate limits (per credential, per client address), shared by every
-- API replica: one row per key holding the current fixed window, updated by one upsert per request.
-- Rows whose window has passed are deleted by the API now and then.
CREATE TABLE api_rate_limits (
  key            text PRIMARY KEY,
  hits           integer NOT NULL,
  window_ends_at timestamptz NOT NULL
);

-- Down Migration
DROP TABLE api_rate_limits;
