import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, redactSecrets } from '../../../lib/audit/redact';

describe('audit: secrets redacted', () => {
  it('replaces every value whose name says it is a secret, at any depth, and keeps the rest', () => {
    const redacted = redactSecrets({
      name: 'Lincoln',
      external: {
        host: 'sftp.example',
        password: 'p4ss',
        private_key: '-----BEGIN',
        privateKeyPassphrase: 'x',
      },
      externalPasswordEnc: 'blob',
      apiKey: 'rsk_abc',
      keys: [{ keyHash: 'ff', fingerprint: 'SHA256:abc' }],
      hasPassword: true,
      token: null,
    });
    assert.deepEqual(redacted, {
      name: 'Lincoln',
      external: {
        host: 'sftp.example',
        password: REDACTED,
        private_key: REDACTED,
        privateKeyPassphrase: REDACTED,
      },
      externalPasswordEnc: REDACTED,
      apiKey: REDACTED,
      keys: [{ keyHash: REDACTED, fingerprint: 'SHA256:abc' }],
      hasPassword: true,
      token: null,
    });
  });

  it('bounds its walk: a deeply nested document is cut, not recursed without end', () => {
    let doc: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 50; i++) doc = { inner: doc };
    let depth = 0;
    let node: unknown = redactSecrets(doc);
    while (node && typeof node === 'object') {
      node = (node as { inner: unknown }).inner;
      depth++;
    }
    assert.equal(node, '[too deep]');
    assert.equal(depth, 8);
  });
});
