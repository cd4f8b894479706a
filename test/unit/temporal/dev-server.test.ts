import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEV_SERVER_DYNAMIC_CONFIG, devServerArgs } from '../../../lib/temporal/dev-server';
import { REPO_ROOT } from '../../support/paths';

describe('Temporal server settings', () => {
  it('passes each dynamic config value to the dev server as JSON', () => {
    const args = devServerArgs();
    assert.deepEqual(args.slice(0, 4), [
      '--dynamic-config-value',
      'system.enableActivityEagerExecution=true',
      '--dynamic-config-value',
      'history.queueReaderStuckCriticalAttempts=0',
    ]);
    assert.deepEqual(args.slice(-2), ['--log-level', 'error']);
  });

  it('gives the compose stack the same settings as the dev server', () => {
    const yaml = fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml'), 'utf8');
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
      const escaped = key.replace(/\./g, '\\.');
      assert.match(yaml, new RegExp(`^${escaped}:\\n  - value: ${String(value)}$`, 'm'), key);
    }
  });
});
