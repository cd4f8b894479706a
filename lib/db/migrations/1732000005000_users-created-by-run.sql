-- Up Migration
-- Which run created a user: welcome emails go to exactly the users a run created.
ALTER TABLE users ADD COLUMN created_by_run uuid;
CREATE INDEX users_created_by_run ON users (created_by_run) WHERE created_by_run IS NOT NULL;

-- Down Migration
ALTER TABLE users DROP COLUMN created_by_run;
