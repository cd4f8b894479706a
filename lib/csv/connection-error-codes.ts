import type { ErrorCodeEntry } from './error-codes';

/**
 * What Test Connection (POST /districts/:id/sync-config/test-connection) can find on the way to a
 * district's file, one code per cause. Fatal: a run would read nothing until it is fixed.
 */
const fatal = (code: string, title: string, fix: string): ErrorCodeEntry => ({
  code,
  severity: 'fatal',
  title,
  fix,
});

export const CONNECTION_ERROR_CODES: readonly ErrorCodeEntry[] = [
  fatal(
    'CONNECTION_DNS_FAILED',
    'The host name of the district’s SFTP server does not resolve (or DNS did not answer in time).',
    'Check external.host for typos; it must be the name the server is reached by from the internet.',
  ),
  fatal(
    'HOST_NOT_ALLOWED',
    'The host is or resolves to an address rostersync never connects to (loopback, private, link-local, metadata).',
    'Give the server’s public host name; a server reached over a VPN needs EXTERNAL_SFTP_ALLOW_PRIVATE=true on the worker.',
  ),
  fatal(
    'CONNECTION_REFUSED',
    'The server refused the TCP connection: nothing listens on that port, or a firewall rejects it.',
    'Check external.port with the district (22 unless they say otherwise) and that their SFTP service runs.',
  ),
  fatal(
    'CONNECTION_TIMEOUT',
    'The server did not accept a TCP connection in time: it is down, or a firewall silently drops rostersync.',
    'Ask the district to allow rostersync’s public address on the SFTP port, and check host and port.',
  ),
  fatal(
    'CONNECTION_UNREACHABLE',
    'No route leads from rostersync’s network to the server’s address.',
    'Check external.host; if it is right, the district’s network or firewall must let rostersync through.',
  ),
  fatal(
    'CONNECTION_FAILED',
    'The TCP connection to the server failed for another reason (the error code is given).',
    'Try again; if it persists, give the code to the district’s network administrator.',
  ),
  fatal(
    'SSH_HANDSHAKE_TIMEOUT',
    'The port accepted the connection but no SSH handshake followed in time: it is usually not an SSH port.',
    'Check external.port: it must be the SFTP (SSH) port, not a web or FTP port.',
  ),
  fatal(
    'SSH_HANDSHAKE_FAILED',
    'The port accepted the connection but the SSH handshake failed (not an SSH server, or no common algorithms).',
    'Check external.port; if it is the SSH port, ask the district whether their server accepts modern SSH clients.',
  ),
  fatal(
    'HOST_KEY_UNKNOWN',
    'No host key fingerprint is pinned in the config, so rostersync stopped before sending any credential; the answer shows the server’s fingerprint.',
    'Check the fingerprint shown with the district (ssh-keygen -lf on the server’s host key) and save it as external.hostKeyFingerprint.',
  ),
  fatal(
    'HOST_KEY_MISMATCH',
    'The server presented a host key other than the pinned one; rostersync refused to log in. Both fingerprints are shown.',
    'If the district changed its server’s key, check the new fingerprint with them and update external.hostKeyFingerprint; otherwise treat it as an attack.',
  ),
  fatal(
    'AUTH_FAILED',
    'The server refused the login with the username and password or private key of the config.',
    'Check external.username and the password with the district, or that the public half of the key is in the user’s authorized_keys.',
  ),
  fatal(
    'AUTH_TIMEOUT',
    'The server did not finish the login in time.',
    'Try again; if it persists, ask the district to check their server’s authentication (e.g. slow PAM or LDAP).',
  ),
  fatal(
    'KEY_PASSPHRASE_WRONG',
    'The private key is protected by a passphrase, and the config gives none or a wrong one.',
    'Set external.privateKeyPassphrase to the key’s passphrase, or give a key without one.',
  ),
  fatal(
    'PRIVATE_KEY_INVALID',
    'The private key of the config cannot be read as an OpenSSH, PEM RSA/ECDSA or Ed25519 key.',
    'Paste the whole private key file, BEGIN and END lines included.',
  ),
  fatal(
    'SFTP_UNAVAILABLE',
    'The login works but the server does not offer SFTP to this user (shell-only or SCP-only account).',
    'Ask the district to enable the sftp subsystem for the user.',
  ),
  fatal(
    'PATH_MISSING',
    'The folder the config names does not exist on the server (for the hosted server: nothing was uploaded yet).',
    'Check external.path (case-sensitive), or leave it out to read the login’s home folder; upload a file to the hosted server first.',
  ),
  fatal(
    'PATH_PERMISSION_DENIED',
    'The folder exists but the login may not list it.',
    'Ask the district to give the user read and list (execute) permission on the folder.',
  ),
  fatal(
    'PATH_NOT_A_FOLDER',
    'The path the config names is a file, not a folder.',
    'Set external.path to the folder the export is written to, not to the file itself.',
  ),
  fatal(
    'PATH_TIMEOUT',
    'The server did not answer for the folder in time.',
    'Try again; if it persists, ask the district to check their server’s load.',
  ),
  fatal(
    'PATH_UNREADABLE',
    'The folder could not be checked for another reason (the error code is given).',
    'Try again; if it persists, give the code to the district.',
  ),
  fatal(
    'NO_FILE_QUALIFIES',
    'The folder holds no file the config’s file rule picks; the message says what was expected and what was found.',
    'Upload the export as the rule expects, or change fileRule / fileName.',
  ),
  fatal(
    'FILE_STILL_UPLOADING',
    'The file the rule picks is still being uploaded (changed moments ago, or left open).',
    'Wait until the upload is finished, then test again.',
  ),
  fatal(
    'FILE_TOO_LARGE',
    'The file the rule picks is larger than FETCH_MAX_FILE_BYTES, so a run would not copy it.',
    'Check that the district exports the right file; if it is, raise FETCH_MAX_FILE_BYTES.',
  ),
  fatal(
    'FILE_LISTING_TIMEOUT',
    'Listing the folder took longer than Test Connection allows.',
    'Remove old files from the folder (at most 10,000 entries are looked at), or ask the district to check their server.',
  ),
  fatal(
    'FILE_LISTING_FAILED',
    'The folder could not be listed for another reason (the error code is given).',
    'Try again; if it persists, give the code to the district.',
  ),
  fatal(
    'FILE_PERMISSION_DENIED',
    'The file the rule picks is listed but the login may not read it.',
    'Ask the district to give the user read permission on the exported file.',
  ),
  fatal(
    'FILE_READ_TIMEOUT',
    'Reading the start of the picked file took longer than Test Connection allows.',
    'Try again; if it persists, ask the district to check their server.',
  ),
  fatal(
    'FILE_UNREADABLE',
    'The start of the picked file could not be read for another reason (the error code is given).',
    'Try again; if it persists, give the code to the district.',
  ),
];
