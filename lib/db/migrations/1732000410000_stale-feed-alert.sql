-- Up Migration

-- Hours without a new file (a different SHA-256) after which a scheduled run alerts the admins,
-- once per stale file; NULL: off.
ALTER TABLE sync_configs ADD COLUMN stale_feed_hours integer CHECK (stale_feed_hours > 0);

-- Down Migration
ALTER TABLE sync_configs DROP COLUMN stale_feed_hours;
