import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { SyncHarness } from './sync-harness';

/**
 * createRun as the district workflow calls it for a scheduled or file-arrived run: with the id the
 * workflow chose, so a retried attempt whose first try did commit never leaves a second row queued.
 */
describe('creating a scheduled run', () => {
  let db: TestDatabase;
  const harnesses: SyncHarness[] = [];

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    for (const h of harnesses) h.cleanup();
    await db.drop();
  });

  it('creates the run once however often the activity is retried', async () => {
    const h = await new SyncHarness(db.pool).setup({ matchingKey: 'email' });
    harnesses.push(h);
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
    const a = await new SyncHarness(db.pool).setup({ matchingKey: 'email' });
    const b = await new SyncHarness(db.pool).setup({ matchingKey: 'email' });
    harnesses.push(a, b);
    const runId = crypto.randomUUID();
    await a.activities.createRun({ districtId: a.districtId, trigger: 'schedule', dryRun: false, runId });
    await assert.rejects(
      b.activities.createRun({ districtId: b.districtId, trigger: 'schedule', dryRun: false, runId }),
      /exists for another district/,
    );
  });
});
