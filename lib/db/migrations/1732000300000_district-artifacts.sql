-- Up Migration

-- Every file a run keeps (its original) counted against its district's bound
-- (DISTRICT_ARTIFACT_MAX_BYTES). A file fetched again with the same sha256 is stored once: its
-- row and its bytes are shared by every run that read it.
CREATE TABLE district_artifacts (
  file_ref    text PRIMARY KEY,
  district_id uuid NOT NULL REFERENCES districts(id) ON DELETE CASCADE,
  sha256      text,
  size        bigint NOT NULL CHECK (size >= 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX district_artifacts_by_district ON district_artifacts (district_id, created_at);
CREATE INDEX district_artifacts_by_sha256 ON district_artifacts (district_id, sha256);
CREATE INDEX sync_runs_by_file_ref ON sync_runs (file_ref) WHERE file_ref IS NOT NULL;

-- Files kept before the bound existed count too, so they can be released like any other.
INSERT INTO district_artifacts (file_ref, district_id, sha256, size, created_at)
SELECT DISTINCT ON (file_ref) file_ref, district_id, file_sha256, file_size, created_at
FROM sync_runs WHERE file_ref IS NOT NULL AND file_size IS NOT NULL
ORDER BY file_ref, created_at;

-- Down Migration
DROP INDEX sync_runs_by_file_ref;
DROP TABLE district_artifacts;
