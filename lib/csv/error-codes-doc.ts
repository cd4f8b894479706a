import { ERROR_CODES } from './error-codes';

/**
 * Renders the error dictionary as the markdown table of docs/error-codes.md, so the doc is
 * generated from the code rather than kept in step by hand. A unit test fails when they differ;
 * regenerate with: node dist/lib/csv/error-codes-doc.js
 */
const SEVERITY_ORDER = { fatal: 0, error: 1, warning: 2 } as const;

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function renderErrorCodesTable(): string {
  const rows = [...ERROR_CODES]
    .sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity])
    .map((e) => `| \`${e.code}\` | ${e.severity} | ${cell(e.title)} | ${cell(e.fix)} |`);
  return ['| Code | Severity | What it means | How to fix it |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

if (require.main === module) console.log(renderErrorCodesTable());
