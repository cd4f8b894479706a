import type { SyncRunRow } from '../db/repositories/sync-runs.repository';

/** The words of rostersync's mails; pure so they are easy to read and test. */

export function welcomeMail(input: { districtName: string; firstName: string; email: string }): {
  subject: string;
  body: string;
} {
  return {
    subject: `Welcome to ${input.districtName}`,
    body: [
      `Hello ${input.firstName || input.email},`,
      '',
      `An account has been created for you by ${input.districtName}.`,
      `Sign in with ${input.email}; the first sign-in asks you to choose a password.`,
      '',
      'If you did not expect this email, contact your district administrator.',
    ].join('\n'),
  };
}

export type RunOutcome = 'succeeded' | 'failed' | 'held' | 'dry_run';

export function runOutcome(run: SyncRunRow): RunOutcome {
  if (run.status === 'failed') return 'failed';
  if (run.status === 'held') return 'held';
  return run.dry_run ? 'dry_run' : 'succeeded';
}

export function adminNotice(input: {
  districtName: string;
  run: SyncRunRow;
  outcome: RunOutcome;
  apiBaseUrl: string;
  topErrors: Array<{ code: string; count: number }>;
}): { subject: string; body: string } {
  const { run, outcome } = input;
  const headline = {
    succeeded: 'sync succeeded',
    dry_run: 'dry run finished (nothing applied)',
    held: 'sync held for review (nothing applied)',
    failed: 'sync FAILED (nothing applied)',
  }[outcome];
  const counts = [
    `Rows in file: ${run.rows_total ?? 0} (blank skipped: ${run.rows_blank ?? 0}, with errors: ${run.error_count ?? 0})`,
    `Created: ${run.created_count ?? 0}  Updated: ${run.updated_count ?? 0}  Unchanged: ${run.unchanged_count ?? 0}`,
    `Reactivated: ${run.reactivated_count ?? 0}  Archived: ${run.archived_count ?? 0}`,
  ];
  const lines = [
    `${input.districtName}: ${headline}.`,
    '',
    `Run ${run.id}, triggered by ${run.trigger.replace('_', ' ')}.`,
    run.file_name
      ? `File: ${run.file_name} (${run.file_size ?? 0} bytes, sha256 ${run.file_sha256 ?? '-'})`
      : 'No file was read.',
    '',
    ...counts,
  ];
  if (run.failure_message) lines.push('', `Reason (${run.failure_type ?? 'error'}): ${run.failure_message}`);
  if (input.topErrors.length > 0) {
    lines.push('', 'Most frequent problems:', ...input.topErrors.map((e) => `  ${e.code}: ${e.count}`));
  }
  const runUrl = `${input.apiBaseUrl}/districts/${run.district_id}/runs/${run.id}`;
  lines.push('', `Details: ${runUrl}`, `Row errors (CSV): ${runUrl}/errors.csv`);
  if (outcome === 'held') lines.push(`Approve: POST ${runUrl}/approve   Discard: POST ${runUrl}/discard`);
  return { subject: `[rostersync] ${input.districtName}: ${headline}`, body: lines.join('\n') };
}
