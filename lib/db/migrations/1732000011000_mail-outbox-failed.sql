-- Up Migration

-- A mail the SMTP server refused for good (a 5xx reply: no such mailbox, rejected address) is marked
-- failed with the server's reply in last_error, and never tried again: one bad address must not hold
-- back the mail after it. Delivery claims the rows that are neither sent nor failed, in order; the
-- admin notice counts a run's mail by kind (sent, refused). On an install with a large outbox the
-- two index builds hold writes to mail_outbox for their duration (about a second per million rows);
-- the old index is dropped last, so its exclusive lock is held only for the commit.
ALTER TABLE mail_outbox ADD COLUMN failed_at timestamptz;
CREATE INDEX mail_outbox_pending ON mail_outbox (run_id, kind, created_at, id)
  WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_run_kind ON mail_outbox (run_id, kind);
DROP INDEX mail_outbox_unsent;

-- Down Migration
DROP INDEX mail_outbox_run_kind;
DROP INDEX mail_outbox_pending;
CREATE INDEX mail_outbox_unsent ON mail_outbox (run_id) WHERE sent_at IS NULL;
ALTER TABLE mail_outbox DROP COLUMN failed_at;
