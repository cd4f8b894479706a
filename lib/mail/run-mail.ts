import type { CurrentFile, SyncRunRow } from '../db/repositories/sync-runs.repository';
import type { PreviousRun } from './notice-policy';

/** The words of rostersync's mails; pure so they are easy to read and test. */

/**
 * A name as one line: the file's names are the district's data, and a quoted name can hold line
 * breaks, which would add lines of the sender's choosing to a mail sent in the district's name.
 * Every run of whitespace (line breaks, tabs, Unicode separators) becomes one space.
 */
export function oneLine(name: string): string {
  return name.replace(/[\s\u0085]+/gu, ' ').trim();
}

export function welcomeMail(input: { districtName: string; firstName: string; email: string }): {
  subject: string;
  body: string;
} {
  const district = oneLine(input.districtName);
  return {
    subject: `Welcome to ${district}`,
    body: [
      `Hello ${oneLine(input.firstName) || input.email},`,
      '',
      `An account has been created for you by ${district}.`,
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
  /** The most frequent codes among the run's errors, and apart, among its warnings. */
  topErrors: Array<{ code: string; count: number }>;
  topWarnings: Array<{ code: string; count: number }>;
  /** Welcome mails the mail server refused for good (an address that does not exist). */
  refusedWelcomes?: { total: number; first: Array<{ recipient: string; error: string }> };
  /** The failed run this success follows: the notice says runs succeed again. */
  recoveredFrom?: PreviousRun;
}): { subject: string; body: string } {
  const { run, outcome } = input;
  const districtName = oneLine(input.districtName);
  const headline = {
    succeeded: input.recoveredFrom ? 'sync succeeded again' : 'sync succeeded',
    dry_run: 'dry run finished (nothing applied)',
    held: 'sync held for review (nothing applied)',
    // A run can fail after its changes were applied (recording its end failed): it must not say
    // "nothing applied" to an admin who will find the changes made.
    failed: run.applied_at ? 'sync FAILED after its changes were applied' : 'sync FAILED (nothing applied)',
  }[outcome];
  const counts = [
    `Rows in file: ${run.rows_total ?? 0} (blank skipped: ${run.rows_blank ?? 0}, with errors: ${run.error_count ?? 0})`,
    `Created: ${run.created_count ?? 0}  Updated: ${run.updated_count ?? 0}  Unchanged: ${run.unchanged_count ?? 0}`,
    `Reactivated: ${run.reactivated_count ?? 0}  Archived: ${run.archived_count ?? 0}`,
  ];
  const lines = [
    `${districtName}: ${headline}.`,
    '',
    `Run ${run.id}, triggered by ${run.trigger.replace('_', ' ')}.`,
    run.file_name
      ? `File: ${run.file_name} (${run.file_size ?? 0} bytes, sha256 ${run.file_sha256 ?? '-'})`
      : 'No file was read.',
    '',
    ...counts,
  ];
  if (input.recoveredFrom) {
    lines.push(
      '',
      `Runs succeed again: the previous run (${input.recoveredFrom.id}) had failed (${input.recoveredFrom.failureType ?? 'error'}).`,
    );
  }
  if (run.failure_message) lines.push('', `Reason (${run.failure_type ?? 'error'}): ${run.failure_message}`);
  if (input.topErrors.length > 0) {
    lines.push('', 'Most frequent errors:', ...input.topErrors.map((e) => `  ${e.code}: ${e.count}`));
  }
  if (input.topWarnings.length > 0) {
    lines.push('', 'Most frequent warnings:', ...input.topWarnings.map((e) => `  ${e.code}: ${e.count}`));
  }
  const refused = input.refusedWelcomes;
  if (refused && refused.total > 0) {
    lines.push(
      '',
      `Welcome emails the mail server refused (${refused.total}); check these addresses:`,
      ...refused.first.map((r) => `  ${r.recipient}: ${r.error}`),
    );
    if (refused.total > refused.first.length)
      lines.push(`  ...and ${refused.total - refused.first.length} more`);
  }
  const runUrl = `${input.apiBaseUrl}/districts/${run.district_id}/runs/${run.id}`;
  lines.push('', `Details: ${runUrl}`, `Row errors (CSV): ${runUrl}/errors.csv`);
  if (outcome === 'held') lines.push(`Approve: POST ${runUrl}/approve   Discard: POST ${runUrl}/discard`);
  return { subject: `[rostersync] ${districtName}: ${headline}`, body: lines.join('\n') };
}

/** The one alert of a stale feed: the district's export has not changed for longer than it should. */
export function staleFeedAlert(input: {
  districtName: string;
  districtId: string;
  hours: number;
  file: CurrentFile;
  apiBaseUrl: string;
}): { subject: string; body: string } {
  const districtName = oneLine(input.districtName);
  const firstRunUrl = `${input.apiBaseUrl}/districts/${input.districtId}/runs/${input.file.runId}`;
  return {
    subject: `[rostersync] ${districtName}: no new roster file for ${input.hours} hours`,
    body: [
      `${districtName}: no new roster file has arrived for more than ${input.hours} hours.`,
      '',
      `Every run since ${input.file.firstReadAt.toISOString()} read the same file${input.file.fileName ? ` (${oneLine(input.file.fileName)})` : ''}, sha256 ${input.file.sha256}.`,
      'The district may have stopped exporting: check the SIS export job and the SFTP upload.',
      'This alert is sent once for this file; runs go on as scheduled.',
      '',
      `First run that read it: ${firstRunUrl}`,
      `Sync status: ${input.apiBaseUrl}/districts/${input.districtId}/sync-status`,
    ].join('\n'),
  };
}
