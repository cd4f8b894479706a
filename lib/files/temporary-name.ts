/**
 * Names SFTP clients give a file while it is still being written, renamed when the transfer ends
 * (FileZilla `.filepart`, WinSCP `.part`, browsers `.crdownload`, editors `~` and dot-files).
 * One rule for the hosted server's completion detection and for picking a file to sync.
 */
const TEMP_SUFFIXES = ['.part', '.filepart', '.partial', '.tmp', '.temp', '.uploading', '.crdownload'];

export function isTemporaryName(name: string): boolean {
  if (name.startsWith('.') || name.startsWith('~')) return true;
  const lower = name.toLowerCase();
  return TEMP_SUFFIXES.some((suffix) => lower.endsWith(suffix));
}
