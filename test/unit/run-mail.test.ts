import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SyncRunRow } from '../../lib/db/repositories/sync-runs.repository';
import { adminNotice, runOutcome } from '../../lib/mail/run-mail';

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

describe('admin notifications', () => {
  it('a success states the counts and links to the run', () => {
    const notice = adminNotice({
      districtName: 'Springfield',
      run: run({}),
      outcome: 'succeeded',
      apiBaseUrl: 'http://api',
      topErrors: [],
    });
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
    const notice = adminNotice({
      districtName: 'Springfield',
      run: failed,
      outcome: 'failed',
      apiBaseUrl: 'http://api',
      topErrors: [{ code: 'UNKNOWN_SCHOOL', count: 30 }],
    });
    assert.match(notice.subject, /FAILED/);
    assert.match(notice.body, /Reason \(ThresholdExceeded\): 31% of rows/);
    assert.match(notice.body, /UNKNOWN_SCHOOL: 30/);
  });

  it('a held run says how to approve or discard it', () => {
    const notice = adminNotice({
      districtName: 'S',
      run: run({ status: 'held' }),
      outcome: 'held',
      apiBaseUrl: 'http://api',
      topErrors: [],
    });
    assert.match(notice.body, /Approve: POST .*\/approve/);
  });
});
