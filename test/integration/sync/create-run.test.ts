import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { useSyncDistricts } from './sync-harness';

/**
 * createRun as the district workflow calls it for a scheduled or file-arrived run: with the id the
 * workflow chose, so a retried attempt whose first try did commit never leaves a second row queued.
 */
describe('creating a scheduled run', () => {
  const { db, district } = useSyncDistricts();

  it('creates the run once however often the activity is retried', async () => {
    const h = await district({ matchingKey: 'email' });
    const runId = crypto.randomUUID();
    const input = { districtId: h.districtId, trigger: 'schedule' as const, dryRun: false, runId };
    assert.deepEqual(await h.activities.createRun(input), { runId });
    assert.deepEqual(await h.activities.createRun(input), { runId }, 'a retry finds the same row');
    const { rows } = await db.pool.query<{ id: string; status: string; trigger: string }>(
      'SELECT id, status, trigger FROM sync_runs WHERE district_id = $1',
      [h.districtId],
    );
    assert.deepEqual(rows, [{ id: runId, status: 'queued', trigger: 'schedule' }]);
  });

  it("never hands out another district's run", async () => {
    const a = await district({ matchingKey: 'email' });
    const b = await district({ matchingKey: 'email' });
    const runId = crypto.randomUUID();
    await a.activities.createRun({ districtId: a.districtId, trigger: 'schedule', dryRun: false, runId });
    await assert.rejects(
      b.activities.createRun({ districtId: b.districtId, trigger: 'schedule', dryRun: false, runId }),
      /exists for another district/,
    );
  });
});
