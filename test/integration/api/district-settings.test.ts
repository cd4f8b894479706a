import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DistrictSchedule } from '../../../lib/contracts/schedule';
import { type ApiHarness, BASE_CONFIG, bearerAgent, createDistrict, issueKey, useApi } from './api-harness';

/** The schedules the district workflow was sent with configChanged, oldest first. */
async function schedulesSent(h: ApiHarness, districtId: string): Promise<DistrictSchedule[]> {
  const history = await h.temporal.client.workflow.getHandle(`district-sync:${districtId}`).fetchHistory();
  const converter = h.temporal.client.options.loadedDataConverter.payloadConverter;
  return (history.events ?? []).flatMap((e) => {
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName !== 'configChanged') return [];
    return [converter.fromPayload<DistrictSchedule>(signal.input!.payloads![0])];
  });
}

describe('API: PATCH /districts/:id', () => {
  const h = useApi();

  it('renames a district and leaves the rest as it was', async () => {
    const d = await createDistrict(h);
    const res = await h.api().patch(`/districts/${d.id}`).send({ name: ' Springfield Unified ' }).expect(200);
    assert.equal(res.body.name, 'Springfield Unified');
    assert.equal(res.body.slug, d.slug);
    assert.equal(res.body.timeZone, 'America/Chicago');
    assert.deepEqual((await h.api().get(`/districts/${d.id}`).expect(200)).body, res.body);
  });

  it("moves the district's schedule to a new time zone", async () => {
    const d = await createDistrict(h);
    await h.api().put(`/districts/${d.id}/sync-config`).send(BASE_CONFIG).expect(200);
    const res = await h
      .api()
      .patch(`/districts/${d.id}`)
      .send({ timeZone: 'america/los_angeles' })
      .expect(200);
    assert.equal(res.body.timeZone, 'America/Los_Angeles', 'stored in canonical spelling');
    const sent = await schedulesSent(h, d.id);
    assert.equal(sent.at(-1)?.timeZone, 'America/Los_Angeles');
    assert.equal(sent.at(-1)?.timeOfDay, BASE_CONFIG.timeOfDay, 'the rest of the schedule is the config');
    // A district without a sync config has no schedule to move: its first config save starts one.
    const bare = await createDistrict(h);
    await h.api().patch(`/districts/${bare.id}`).send({ timeZone: 'Europe/Paris' }).expect(200);
    await h.api().put(`/districts/${bare.id}/sync-config`).send(BASE_CONFIG).expect(200);
    assert.equal((await schedulesSent(h, bare.id)).at(-1)?.timeZone, 'Europe/Paris');
  });

  it('explains what it refuses', async () => {
    const d = await createDistrict(h);
    const zone = await h
      .api()
      .patch(`/districts/${d.id}`)
      .send({ timeZone: 'Mars/Olympus_Mons' })
      .expect(400);
    assert.match(zone.body.message, /timeZone: timeZone must be an IANA time zone name/);
    const empty = await h.api().patch(`/districts/${d.id}`).send({}).expect(400);
    assert.match(empty.body.message, /Give name, timeZone or both/);
    const slug = await h.api().patch(`/districts/${d.id}`).send({ slug: 'new-slug' }).expect(400);
    assert.match(slug.body.message, /slug/);
    await h.api().patch('/districts/3f2504e0-4f89-41d3-9a0c-0305e82c3301').send({ name: 'X' }).expect(404);
  });

  it('lets a district key change its own district only', async () => {
    const a = await createDistrict(h);
    const b = await createDistrict(h);
    const keyA = bearerAgent(h.app, await issueKey(h, a.id), h.responses);
    await keyA.patch(`/districts/${a.id}`).send({ name: 'Renamed by its admin' }).expect(200);
    await keyA.patch(`/districts/${b.id}`).send({ name: 'Hijacked' }).expect(404);
    assert.equal((await h.api().get(`/districts/${b.id}`).expect(200)).body.name, `District ${b.slug}`);
  });
});
