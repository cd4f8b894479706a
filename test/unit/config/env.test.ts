import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEnv } from '../../../lib/config/env';

describe('configuration', () => {
  const base = {
    DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
    API_TOKEN: 'x'.repeat(32),
    SECRET_KEY: 'k'.repeat(64),
  };

  it('applies defaults and freezes the result', () => {
    const env = loadEnv(base);
    assert.equal(env.API_PORT, 3000);
    assert.equal(env.TEMPORAL_TASK_QUEUE, 'rostersync');
    assert.ok(Object.isFrozen(env));
  });

  it('names every bad setting and how to fix it', () => {
    assert.throws(
      () => loadEnv({ ...base, DATABASE_URL: 'nope', API_PORT: '99999' }),
      (err: Error) => /DATABASE_URL/.test(err.message) && /API_PORT/.test(err.message),
    );
  });

  it('needs a public address for mail links when the API listens on every address', () => {
    assert.throws(
      () => loadEnv({ ...base, API_HOST: '0.0.0.0' }),
      (err: Error) => /PUBLIC_API_URL is required when API_HOST listens on every address/.test(err.message),
    );
    const env = loadEnv({ ...base, API_HOST: '0.0.0.0', PUBLIC_API_URL: 'https://rostersync.example.org/' });
    assert.equal(
      env.PUBLIC_API_URL,
      'https://rostersync.example.org',
      'no trailing slash: links never get //',
    );
  });
});
