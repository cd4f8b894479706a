-- Up Migration

-- A run checks its staging before it plans or applies: staging partitions are UNLOGGED, so a crash
-- or failover of Postgres leaves them empty. Recorded once staging completes: the rows staged and a
-- checksum over them (lib/sync/staging.repository.ts, fingerprint).
ALTER TABLE sync_runs ADD COLUMN staged_rows integer;
ALTER TABLE sync_runs ADD COLUMN staged_checksum text;
-- The current holder of the run's guard (lib/sync/run-guard.ts): stage, plan and apply write only
-- while they hold it, and an attempt scheduled before the last holder's may not take it.
ALTER TABLE sync_runs ADD COLUMN guard_token uuid;
ALTER TABLE sync_runs ADD COLUMN guard_attempt_at timestamptz;

-- One plan row per file row, and one archive per user: two overlapping plan attempts can never leave
-- a row created (or a user archived) twice. A file row names at most one user, so the first index
-- also keeps a user from being updated twice; one over (run_id, user_id) for every row would double
-- the plan time of a first import (random new ids), for nothing more. Plans written before these
-- existed may hold such doubles (the second copy is an account that was never a person of the file);
-- they are kept once, the first one.
DELETE FROM run_plan WHERE ctid IN (
  SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY run_id, row_number ORDER BY ctid) AS n
                    FROM run_plan WHERE row_number IS NOT NULL) d
  WHERE n > 1);
DELETE FROM run_plan WHERE ctid IN (
  SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY run_id, user_id ORDER BY ctid) AS n
                    FROM run_plan WHERE row_number IS NULL) d
  WHERE n > 1);
CREATE UNIQUE INDEX run_plan_one_per_row ON run_plan (run_id, row_number) WHERE row_number IS NOT NULL;
CREATE UNIQUE INDEX run_plan_one_archive_per_user ON run_plan (run_id, user_id) WHERE row_number IS NULL;

-- Down Migration
DROP INDEX run_plan_one_archive_per_user;
DROP INDEX run_plan_one_per_row;
ALTER TABLE sync_runs DROP COLUMN guard_attempt_at, DROP COLUMN guard_token,
  DROP COLUMN staged_checksum, DROP COLUMN staged_rows;
