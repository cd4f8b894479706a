-- Up Migration

-- Runs of one district never overlap. startRun checks for another running run before it claims its
-- own; this index makes that check airtight when two claims race (the second one fails and retries).
CREATE UNIQUE INDEX sync_runs_one_running_per_district ON sync_runs (district_id) WHERE status = 'running';

-- Down Migration
DROP INDEX sync_runs_one_running_per_district;
