-- Up Migration

-- The hosted SFTP server's public host keys, published by the server at every start, so the API can
-- show districts the fingerprints to compare without holding the private keys (it runs without the
-- SFTP server's files). One row per key type: every replica serves the same keys.
CREATE TABLE sftp_host_keys (
  algorithm    text PRIMARY KEY,
  fingerprint  text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE sftp_host_keys;
