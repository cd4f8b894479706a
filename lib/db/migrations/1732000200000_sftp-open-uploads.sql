-- Up Migration

-- Files open for writing on the hosted SFTP server, so a worker on any machine leaves them alone
-- until the upload closes, and files whose upload was interrupted (the connection dropped with the
-- file open: `interrupted`), left alone until uploaded again. One row per server process, district
-- and path. The server renews its rows' expiry while it runs; a crashed server's rows expire on
-- their own, and readers skip expired rows, so no file stays "open" for ever.
CREATE TABLE sftp_open_uploads (
  server_id   uuid NOT NULL,
  district_id uuid NOT NULL REFERENCES districts (id) ON DELETE CASCADE,
  path        text NOT NULL,
  interrupted boolean NOT NULL DEFAULT false,
  opened_at   timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (district_id, path, server_id)
);
CREATE INDEX sftp_open_uploads_server ON sftp_open_uploads (server_id);

-- Down Migration
DROP TABLE sftp_open_uploads;
