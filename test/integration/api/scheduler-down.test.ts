import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SyncRunsRepository } from '../../../lib/db/repositories/sync-runs.repository';
import { type ApiHarness, BASE_CONFIG, createDistrict, startApi } from './api-harness';

/**
 * The API while Temporal (the scheduler) is down: every call that needs it answers 503 with what to
 * do, nothing is lost or half-done, and a Sync Now leaves a run that says why it never started.
 */
describe('API while the scheduler is down', () => {
  let h: ApiHarness;
  let districtId: string;
  let heldRunId: string;

  before(async () => {
    h = await startApi();
    districtId = (await createDistrict(h)).id;
    await h.api().put(`/districts/${districtId}/sync-config`).send(BASE_CONFIG).expect(200);
    const runs = new SyncRunsRepository(h.db.pool);
    heldRunId = (await runs.create({ districtId, trigger: 'sync_now', dryRun: false })).id;
    await h.db.pool.query(`UPDATE sync_runs SET status = 'held', stage = 'review' WHERE id = $1`, [
      heldRunId,
    ]);
    await h.temporal.teardown();
  });

  after(async () => {
    await h.app.close();
    await h.db.drop();
    fs.rmSync(h.dataDir, { recursive: true, force: true });
  });

  it('Sync Now answers 503 and records the run as failed with SchedulerUnavailable', async () => {
    const res = await h.api().post(`/districts/${districtId}/sync-now`).send({}).expect(503);
    assert.match(res.body.message, /could not be reached, so the run was not started: try again in a minute/);
    const { rows } = await h.db.pool.query<{ status: string; failure_type: string }>(
      `SELECT status, failure_type FROM sync_runs WHERE district_id = $1 AND id <> $2`,
      [districtId, heldRunId],
    );
    assert.deepEqual(rows, [{ status: 'failed', failure_type: 'SchedulerUnavailable' }]);
  });

  it('a review decision answers 503 and the run stays held for a later decision', async () => {
    const res = await h.api().post(`/districts/${districtId}/runs/${heldRunId}/approve`).send({}).expect(503);
    assert.match(res.body.message, /the decision was not sent and the run is still held: decide again/);
    const run = await h.api().get(`/districts/${districtId}/runs/${heldRunId}`).expect(200);
    assert.equal(run.body.status, 'held');
  });

  it('saving the sync config keeps the config and says the schedule is not updated yet', async () => {
    const res = await h
      .api()
      .put(`/districts/${districtId}/sync-config`)
      .send({ ...BASE_CONFIG, timeOfDay: '05:30' })
      .expect(503);
    assert.match(
      res.body.message,
      /The config was saved but the scheduler \(Temporal\) could not be reached/,
    );
    const saved = await h.api().get(`/districts/${districtId}/sync-config`).expect(200);
    assert.equal(saved.body.timeOfDay, '05:30');
  });

  it('a new time zone is saved and the answer says to send it again for the schedule', async () => {
    const res = await h
      .api()
      .patch(`/districts/${districtId}`)
      .send({ timeZone: 'America/Denver' })
      .expect(503);
    assert.match(
      res.body.message,
      /The time zone was saved but the scheduler \(Temporal\) could not be reached/,
    );
    const district = await h.api().get(`/districts/${districtId}`).expect(200);
    assert.equal(district.body.timeZone, 'America/Denver');
  });

  it('the status answers 503 and points at the worker', async () => {
    const res = await h.api().get(`/districts/${districtId}/sync-status`).expect(503);
    assert.match(res.body.message, /did not answer its status query/);
  });
});
