-- Up Migration

-- Staging: one UNLOGGED partition per run (created by stageFile, dropped once the run is final).
-- Unlogged because staging is rebuilt from the run's original file on any retry; a partition per run
-- so dropping a million rows is instant and the planner gets statistics for this run alone.
-- Rows with errors are staged too (has_error): their keys protect their users from being archived.
CREATE TABLE stage_rows (
  run_id        uuid NOT NULL,
  row_number    integer NOT NULL,
  match_key     text,
  email         text,
  first_name    text NOT NULL,
  last_name     text NOT NULL,
  internal_id   text,
  accounting_id text,
  clever_id     text,
  platform_id   text,
  role          text NOT NULL,
  school        text,
  coach_email   text,
  phone         text,
  custom        jsonb NOT NULL DEFAULT '{}',
  row_hash      text NOT NULL,
  has_error     boolean NOT NULL DEFAULT false
) PARTITION BY LIST (run_id);

-- The plan of a run, kept for download after staging is dropped. Unchanged rows are not stored
-- (only counted). No foreign key: a million-row plan would pay a lookup per row; rows go with
-- their run through sync_runs' cleanup (DELETE FROM run_plan WHERE run_id = ...).
CREATE TABLE run_plan (
  run_id      uuid NOT NULL,
  action      text NOT NULL CHECK (action IN ('create', 'update', 'reactivate', 'archive')),
  user_id     uuid NOT NULL,
  row_number  integer,
  key         text,
  email       text,
  first_name  text,
  last_name   text,
  changed     text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX run_plan_run ON run_plan (run_id, action);

-- Rows that had at least one error: the error threshold is a share of rows, not of findings.
ALTER TABLE sync_runs ADD COLUMN rows_with_errors integer;
-- Active users when the run was planned: the base of the archive-percentage safeguard.
ALTER TABLE sync_runs ADD COLUMN active_before integer;

-- Coaching groups, kept in step with the file on every run.
CREATE TABLE groups (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id   uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  -- 'coach': one group per coach holding their coachees; 'school_teachers': a school's Teachers group.
  kind          text NOT NULL CHECK (kind IN ('coach', 'school_teachers')),
  coach_user_id uuid REFERENCES users(id) ON DELETE CASCADE,
  school_id     uuid REFERENCES schools(id) ON DELETE CASCADE,
  name          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'coach') = (coach_user_id IS NOT NULL)),
  CHECK ((kind = 'school_teachers') = (school_id IS NOT NULL))
);
CREATE UNIQUE INDEX groups_coach ON groups (district_id, coach_user_id) WHERE kind = 'coach';
CREATE UNIQUE INDEX groups_school_teachers ON groups (district_id, school_id) WHERE kind = 'school_teachers';

CREATE TABLE group_members (
  group_id  uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  added_at  timestamptz NOT NULL DEFAULT now(),
  -- Members added by the sync are removed by it when the file no longer puts them there;
  -- members added by hand are left alone.
  by_sync   boolean NOT NULL DEFAULT true,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Down Migration
DROP TABLE group_members, groups, run_plan, stage_rows;
ALTER TABLE sync_runs DROP COLUMN rows_with_errors, DROP COLUMN active_before;
