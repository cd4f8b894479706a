-- Up Migration

CREATE TABLE districts (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  -- The district's unique key: its hosted SFTP username and its folder name.
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  time_zone   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (district_id, name)
);

CREATE TABLE sync_configs (
  district_id           uuid PRIMARY KEY REFERENCES districts(id) ON DELETE CASCADE,
  enabled               boolean NOT NULL DEFAULT false,
  frequency             text NOT NULL DEFAULT 'daily' CHECK (frequency IN ('once', 'daily', 'weekly', 'monthly')),
  start_date            date NOT NULL DEFAULT current_date,
  time_of_day           text NOT NULL DEFAULT '02:00' CHECK (time_of_day ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  source                text NOT NULL DEFAULT 'hosted' CHECK (source IN ('hosted', 'external')),
  file_rule             text NOT NULL DEFAULT 'latest' CHECK (file_rule IN ('latest', 'specific_name', 'epoch', 'auto_suffix')),
  file_name             text,
  process_on_arrival    boolean NOT NULL DEFAULT false,
  matching_key          text NOT NULL DEFAULT 'email'
                          CHECK (matching_key IN ('email', 'internal_id', 'accounting_id', 'clever_id', 'platform_id')),
  coaching_groups       text[] NOT NULL DEFAULT '{}',
  error_threshold_pct   numeric(5, 2) NOT NULL DEFAULT -1,
  max_archive_pct       numeric(5, 2) NOT NULL DEFAULT 10,
  max_archive_count     integer NOT NULL DEFAULT 500,
  max_row_drop_pct      numeric(5, 2) NOT NULL DEFAULT 20,
  welcome_emails        boolean NOT NULL DEFAULT false,
  notify_emails         text[] NOT NULL DEFAULT '{}',
  notify_on_success     boolean NOT NULL DEFAULT false,
  -- A district's own SFTP server (source = 'external'); secrets are encrypted at rest.
  external_host         text,
  external_port         integer,
  external_username     text,
  external_password_enc text,
  external_key_enc      text,
  external_host_key     text,
  external_path         text,
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sftp_accounts (
  district_id         uuid PRIMARY KEY REFERENCES districts(id) ON DELETE CASCADE,
  username            text NOT NULL UNIQUE,
  password_hash       text,
  password_changed_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sftp_public_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  algorithm   text NOT NULL,
  public_key  text NOT NULL,
  fingerprint text NOT NULL,
  comment     text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (district_id, fingerprint)
);

CREATE TABLE users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id    uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  email          text,
  first_name     text NOT NULL DEFAULT '',
  last_name      text NOT NULL DEFAULT '',
  internal_id    text,
  accounting_id  text,
  clever_id      text,
  role           text,
  school_id      uuid REFERENCES schools(id),
  coach_email    text,
  phone          text,
  custom_fields  jsonb NOT NULL DEFAULT '{}',
  -- Hash of the normalised source row: an unchanged row costs no write.
  row_hash       text,
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
  -- Protected users are never archived by a sync (e.g. admins created by hand).
  protected      boolean NOT NULL DEFAULT false,
  archived_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  last_run_id    uuid
);
CREATE INDEX users_district_email ON users (district_id, lower(email));
CREATE INDEX users_district_internal_id ON users (district_id, internal_id);
CREATE INDEX users_district_accounting_id ON users (district_id, accounting_id);
CREATE INDEX users_district_clever_id ON users (district_id, clever_id);

CREATE TABLE sync_runs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id      uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  trigger          text NOT NULL CHECK (trigger IN ('schedule', 'sync_now', 'file_arrived', 'catch_up', 'retry')),
  dry_run          boolean NOT NULL DEFAULT false,
  status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'held', 'succeeded', 'failed', 'discarded')),
  stage            text,
  workflow_id      text,
  file_name        text,
  file_size        bigint,
  file_sha256      text,
  file_ref         text,
  rows_total       integer,
  rows_blank       integer,
  rows_valid       integer,
  created_count    integer,
  updated_count    integer,
  unchanged_count  integer,
  reactivated_count integer,
  archived_count   integer,
  error_count      integer,
  warning_count    integer,
  timings          jsonb NOT NULL DEFAULT '{}',
  plan_samples     jsonb,
  failure_type     text,
  failure_message  text,
  applied_at       timestamptz,
  retry_of         uuid REFERENCES sync_runs(id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX sync_runs_district_created ON sync_runs (district_id, created_at DESC);

CREATE TABLE run_errors (
  run_id      uuid NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
  row_number  integer,
  column_name text,
  value       text,
  code        text NOT NULL,
  severity    text NOT NULL CHECK (severity IN ('fatal', 'error', 'warning')),
  message     text NOT NULL
);
CREATE INDEX run_errors_run ON run_errors (run_id, row_number);

-- Outbox: a mail is written once per (dedupe_key); a retried activity never sends twice.
CREATE TABLE mail_outbox (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  district_id uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  run_id      uuid REFERENCES sync_runs(id) ON DELETE CASCADE,
  dedupe_key  text NOT NULL UNIQUE,
  kind        text NOT NULL,
  recipient   text NOT NULL,
  subject     text NOT NULL,
  body        text NOT NULL,
  sent_at     timestamptz,
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_unsent ON mail_outbox (run_id) WHERE sent_at IS NULL;

-- Down Migration
DROP TABLE mail_outbox, run_errors, sync_runs, users, sftp_public_keys, sftp_accounts, sync_configs, schools, districts;
