-- Up Migration

-- Values of a skipped row that could be someone's key (its key may sit in the wrong column when an
-- unquoted comma shifted the row). Staged only so the users they name are not archived: they take
-- no part in the within-file duplicate checks and are never created, updated or matched otherwise.
ALTER TABLE stage_rows ADD COLUMN protect_only boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE stage_rows DROP COLUMN protect_only;
