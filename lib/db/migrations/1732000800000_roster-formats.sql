-- Up Migration

-- How a district's files are read (lib/contracts/roster-format.ts): the format, the column mapping
-- (the `mapped` format's columns; overrides of OneRoster's defaults) and OneRoster's schools options.
-- Both documents are validated by their zod schema on the way in and on the way out.
ALTER TABLE sync_configs
  ADD COLUMN format text NOT NULL DEFAULT 'template'
    CHECK (format IN ('template', 'mapped', 'oneroster_1_1')),
  ADD COLUMN column_mapping jsonb,
  ADD COLUMN oneroster_options jsonb NOT NULL DEFAULT '{}'::jsonb;

-- The format a run read its file with; NULL for runs from before formats existed (the template).
ALTER TABLE sync_runs ADD COLUMN format text;

-- Down Migration
ALTER TABLE sync_runs DROP COLUMN format;
ALTER TABLE sync_configs DROP COLUMN oneroster_options, DROP COLUMN column_mapping, DROP COLUMN format;
