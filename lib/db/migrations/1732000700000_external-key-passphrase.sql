-- Up Migration

-- The passphrase of the private key for a district's own SFTP server, encrypted like the key itself
-- (lib/crypto/secret-box); NULL: the key has none. A NULL external_path now means the login's home folder.
ALTER TABLE sync_configs ADD COLUMN external_key_passphrase_enc text;

-- Down Migration
ALTER TABLE sync_configs DROP COLUMN external_key_passphrase_enc;
