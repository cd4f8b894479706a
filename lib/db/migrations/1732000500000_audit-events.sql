-- Up Migration

-- The audit trail (lib/audit): who changed what in a district, when and from where. No foreign key
-- to districts: the record that a district was deleted outlives the district.
CREATE TABLE audit_events (
  id          bigserial PRIMARY KEY,
  district_id uuid,
  kind        text NOT NULL,
  -- 'operator', or a district API key by its display prefix (rsk_...).
  actor       text NOT NULL,
  address     text,
  at          timestamptz NOT NULL DEFAULT now(),
  -- Before and after the change, secrets redacted; NULL when there was nothing before (or after).
  before      jsonb,
  after       jsonb
);
CREATE INDEX audit_events_district ON audit_events (district_id, id DESC);
CREATE INDEX audit_events_district_kind ON audit_events (district_id, kind, id DESC);

-- Down Migration
DROP TABLE audit_events;
