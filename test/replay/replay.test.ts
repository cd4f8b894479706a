import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DeterminismViolationError } from '@temporalio/workflow';
import { ReplayError, Worker } from '@temporalio/worker';
import { WORKFLOW_BUNDLER_OPTIONS } from '../../apps/worker/worker';
import { REPO_ROOT } from '../support/paths';
import { describeHistory, readHistory } from './history-file';

/**
 * Workflow code must keep replaying the histories of workflows already running in production.
 * test/histories/ holds recorded ones (test/replay/record-histories.ts); every one must replay
 * against the current workflows, and a change made without patched() must be caught.
 */
const HISTORIES = path.join(REPO_ROOT, 'test', 'histories');
const files = fs
  .readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json'))
  .sort();
const workflowsPath = (dir: string) => require.resolve(dir);

describe('replay of recorded histories', () => {
  it('has recorded histories of both workflows to check', () => {
    const types = new Set(
      files.map((f) => describeHistory(readHistory(path.join(HISTORIES, f))).workflowType),
    );
    assert.deepEqual([...types].sort(), ['districtSyncWorkflow', 'syncRunWorkflow']);
  });

  it('current workflows replay every recorded history deterministically', async () => {
    const results = Worker.runReplayHistories(
      // Bundled as the worker bundles it (zod and luxon shared and frozen), so replay runs the same code.
      { workflowsPath: workflowsPath('../../workflows'), bundlerOptions: WORKFLOW_BUNDLER_OPTIONS },
      files.map((file) => ({ workflowId: file, history: readHistory(path.join(HISTORIES, file)) })),
    );
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of results) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });

  it('catches a change made without patched(): replaying a run history fails with a determinism error', async () => {
    const history = readHistory(path.join(HISTORIES, 'sync-run.scheduled-succeeded.json'));
    await assert.rejects(
      Worker.runReplayHistory({ workflowsPath: workflowsPath('./changed-workflows') }, history, 'changed'),
      (err: unknown) => {
        assert.ok(
          err instanceof DeterminismViolationError || err instanceof ReplayError,
          `expected a determinism failure, got ${String(err)}`,
        );
        assert.match((err as Error).message, /nondetermin|determinism|does not match/i);
        return true;
      },
    );
  });

  it('accepts the same change behind patched(): every recorded run history still replays', async () => {
    const runs = files.filter((f) => f.startsWith('sync-run.'));
    const results = Worker.runReplayHistories(
      { workflowsPath: workflowsPath('./patched-workflows') },
      runs.map((file) => ({ workflowId: file, history: readHistory(path.join(HISTORIES, file)) })),
    );
    const failures: string[] = [];
    for await (const result of results)
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    assert.deepEqual(failures, []);
    assert.ok(runs.length >= 4);
  });
});
