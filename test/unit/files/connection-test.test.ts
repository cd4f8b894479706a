import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEAD_BYTES, headerStep, StepFailure, StepRunner } from '../../../lib/files/connection-test';

const HEADER = 'First Name,Last Name,Email,Role,Homeroom\n';

describe('Test Connection: header step and step runner', () => {
  it('reads the header as a run does: BOM, a metadata line above it, custom columns as extra', async () => {
    const head = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`Exported from SIS on 2026-09-01\n${HEADER}Ada,Lovelace,ada@d.example,Teacher,7B\n`),
    ]);
    const ok = await headerStep(head, true, 'users.csv', 'email');
    assert.deepEqual(ok.detail?.extra, ['Homeroom']);
    assert.equal(ok.detail?.encoding, 'utf-8-bom');
  });

  it('cuts a head that goes on after its last line break, and refuses one without any', async () => {
    const cut = Buffer.from(`${HEADER}Ada,Lovelace,ada@d.example,Teacher,7B\nGrace,Hop`);
    assert.deepEqual((await headerStep(cut, false, 'users.csv', 'email')).detail?.missing, []);
    await assert.rejects(headerStep(Buffer.alloc(HEAD_BYTES, 0x41), false, 'users.csv', 'email'), (err) => {
      assert.ok(err instanceof StepFailure);
      assert.equal(err.code, 'HEADER_NOT_FOUND');
      return true;
    });
    await assert.rejects(headerStep(Buffer.from(HEADER + 'a,b,c,Teacher\n'), true, 'u.csv', 'internal_id'), {
      code: 'MISSING_REQUIRED_COLUMN',
      detail: { missing: ['Internal ID'] },
    });
  });

  it('skips every step after a failure, and hides the message of an unforeseen error', async () => {
    const runner = new StepRunner(['path', 'file', 'header']);
    await runner.run(
      'path',
      () => Promise.reject(Object.assign(new Error('connect 10.0.0.7:22'), { code: 'ECONNRESET' })),
      () => new StepFailure('PATH_TIMEOUT', 'late'),
      'PATH_UNREADABLE',
    );
    const result = runner.result();
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.steps.map((s) => [s.step, s.status, s.code]),
      [
        ['path', 'failed', 'PATH_UNREADABLE'],
        ['file', 'skipped', undefined],
        ['header', 'skipped', undefined],
      ],
    );
    assert.equal(result.steps[0].message, 'The path step failed unexpectedly (ECONNRESET).');
  });
});
