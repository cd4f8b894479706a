/**
 * `attachment; filename="..."; filename*=UTF-8''...`: an ASCII fallback for old clients plus the exact
 * original name (RFC 6266 / 5987). Quotes, backslashes and control characters never reach the header.
 */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_') || 'download';
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
