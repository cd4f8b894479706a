import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SyncRunRow } from '../../../lib/db/repositories/sync-runs.repository';
import { adminNotice, runOutcome, welcomeMail } from '../../../lib/mail/run-mail';

const run = (over: Partial<SyncRunRow>): SyncRunRow =>
  ({
    id: '7c1e8d0e-63a5-4b8e-9d53-2f3c8c1f0a11',
    district_id: 'a5b0b1f4-3c55-4a5c-8d7e-55a8a8f0c001',
    trigger: 'sync_now',
    dry_run: false,
    status: 'running',
    file_name: 'users.csv',
    file_size: 2048,
    file_sha256: 'ab'.repeat(32),
    rows_total: 120,
    rows_blank: 2,
    created_count: 5,
    updated_count: 3,
    unchanged_count: 110,
    reactivated_count: 0,
    archived_count: 2,
    error_count: 1,
    failure_type: null,
    failure_message: null,
    ...over,
  }) as SyncRunRow;

type NoticeInput = Parameters<typeof adminNotice>[0];

/** Springfield's notice for a run, with no errors or warnings counted unless given. */
const noticeFor = (r: SyncRunRow, outcome: NoticeInput['outcome'], extra: Partial<NoticeInput> = {}) =>
  adminNotice({
    districtName: 'Springfield',
    run: r,
    outcome,
    apiBaseUrl: 'http://api',
    topErrors: [],
    topWarnings: [],
    ...extra,
  });

describe('admin notifications', () => {
  it('a success states the counts and links to the run', () => {
    const notice = noticeFor(run({}), 'succeeded');
    assert.equal(notice.subject, '[rostersync] Springfield: sync succeeded');
    assert.match(notice.body, /Created: 5 {2}Updated: 3/);
    assert.match(notice.body, /Archived: 2/);
    assert.match(
      notice.body,
      /http:\/\/api\/districts\/a5b0b1f4-3c55-4a5c-8d7e-55a8a8f0c001\/runs\/7c1e8d0e/,
    );
  });

  it('a failure gives the reason and the most frequent problems', () => {
    const failed = run({
      status: 'failed',
      failure_type: 'ThresholdExceeded',
      failure_message: '31% of rows have errors; the limit is 10%.',
    });
    assert.equal(runOutcome(failed), 'failed');
    const notice = noticeFor(failed, 'failed', { topErrors: [{ code: 'UNKNOWN_SCHOOL', count: 30 }] });
    assert.equal(notice.subject, '[rostersync] Springfield: sync FAILED (nothing applied)');
    assert.match(notice.body, /Reason \(ThresholdExceeded\): 31% of rows/);
    assert.match(notice.body, /UNKNOWN_SCHOOL: 30/);
  });

  it('a held run says how to approve or discard it', () => {
    const notice = noticeFor(run({ status: 'held' }), 'held');
    assert.match(notice.body, /Approve: POST .*\/approve/);
  });
});

describe('admin notifications: what the admin is told', () => {
  it('a run that failed after applying its changes does not say nothing was applied', () => {
    const notice = noticeFor(
      run({ status: 'failed', applied_at: new Date(), failure_type: 'Internal', failure_message: 'x' }),
      'failed',
    );
    assert.equal(notice.subject, '[rostersync] Springfield: sync FAILED after its changes were applied');
    assert.doesNotMatch(notice.body, /nothing applied/);
  });

  it('lists errors and warnings apart', () => {
    const notice = noticeFor(run({}), 'succeeded', {
      topErrors: [{ code: 'INVALID_EMAIL', count: 2 }],
      topWarnings: [{ code: 'PHONE_FORMAT', count: 7 }],
    });
    assert.match(notice.body, /Most frequent errors:\n {2}INVALID_EMAIL: 2\n/);
    assert.match(notice.body, /Most frequent warnings:\n {2}PHONE_FORMAT: 7/);
  });

  it('names the welcome addresses the mail server refused', () => {
    const notice = noticeFor(run({}), 'succeeded', {
      refusedWelcomes: { total: 3, first: [{ recipient: 'typo@example.org', error: '550 No such user' }] },
    });
    assert.match(notice.body, /Welcome emails the mail server refused \(3\)/);
    assert.match(notice.body, / {2}typo@example.org: 550 No such user\n {2}\.\.\.and 2 more/);
  });
});

describe('welcome mail', () => {
  it('keeps a name from the file on its line: line breaks in a quoted name add no lines', () => {
    const mail = welcomeMail({
      districtName: 'Springfield',
      firstName: 'Ana\r\n\r\nYour password expired: reset it at http://evil.example\u2028\tnow',
      email: 'ana@example.org',
    });
    const lines = mail.body.split('\n');
    assert.equal(lines[0], 'Hello Ana Your password expired: reset it at http://evil.example now,');
    assert.equal(lines.length, 6);
  });

  it('greets by address when the name is only whitespace', () => {
    assert.match(
      welcomeMail({ districtName: 'S', firstName: ' \n ', email: 'a@b.org' }).body,
      /^Hello a@b.org,/,
    );
  });
});
