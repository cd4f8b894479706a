import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { typedFailure } from '../../../activities/typed-failure';
import { FailureType, NON_RETRYABLE_FAILURES, RetryableFailureType } from '../../../lib/contracts/sync';
import { DomainError } from '../../../lib/errors/domain-error';
import { ExternalSourceError } from '../../../lib/files/external-sftp-source';
import { SourceStalledError } from '../../../lib/files/source-watch';

describe('domain errors at the activity edge', () => {
  it('fails at once on data and configuration problems, and retries what often heals', () => {
    for (const type of Object.values(FailureType))
      assert.equal(new DomainError(type, 'x').nonRetryable, true);
    for (const type of Object.values(RetryableFailureType)) {
      assert.equal(new DomainError(type, 'x').nonRetryable, false);
      assert.ok(
        !NON_RETRYABLE_FAILURES.includes(type),
        `${type} is not in the workflows' non-retryable list`,
      );
    }
  });

  it('becomes an ApplicationFailure of the same type and message, without its support detail', () => {
    const err = new ExternalSourceError('HostNotAllowed', 'did not connect to example.org', {
      resolvedAddress: '10.0.0.1',
    });
    const failure = typedFailure(err);
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'HostNotAllowed');
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'did not connect to example.org');
    assert.doesNotMatch(JSON.stringify(failure.details ?? null), /10\.0\.0\.1/);

    const stalled = typedFailure(new SourceStalledError('no answer'));
    assert.ok(stalled instanceof ApplicationFailure);
    assert.equal(stalled.type, 'SourceStalled');
    assert.equal(stalled.nonRetryable, false);
  });

  it('leaves any other error as it is, for Temporal to retry', () => {
    const plain = new Error('connection reset');
    assert.equal(typedFailure(plain), plain);
  });
});
