import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerAgent, createDistrict, issueKey, useApi } from './api-harness';

interface School {
  id: string;
  districtId: string;
  name: string;
}

interface BulkResult {
  name: string;
  status: 'created' | 'exists' | 'invalid';
  school?: School;
  message?: string;
}

describe('API: schools (rename, delete, bulk add)', () => {
  const h = useApi();

  const addSchool = async (districtId: string, name: string): Promise<School> =>
    (await h.api().post(`/districts/${districtId}/schools`).send({ name }).expect(201)).body as School;
  const schoolNames = async (districtId: string): Promise<string[]> =>
    ((await h.api().get(`/districts/${districtId}/schools`).expect(200)).body as School[]).map((s) => s.name);

  it('renames a school, refusing a name the district already uses', async () => {
    const d = await createDistrict(h);
    const lincoln = await addSchool(d.id, 'Lincoln High');
    await addSchool(d.id, 'Roosevelt High');
    const res = await h
      .api()
      .patch(`/districts/${d.id}/schools/${lincoln.id}`)
      .send({ name: '  Lincoln High School ' })
      .expect(200);
    assert.equal(res.body.id, lincoln.id);
    assert.equal(res.body.name, 'Lincoln High School');
    const dup = await h
      .api()
      .patch(`/districts/${d.id}/schools/${lincoln.id}`)
      .send({ name: 'Roosevelt High' })
      .expect(409);
    assert.match(dup.body.message, /already has a school named "Roosevelt High"/);
    const empty = await h
      .api()
      .patch(`/districts/${d.id}/schools/${lincoln.id}`)
      .send({ name: ' ' })
      .expect(400);
    assert.match(empty.body.message, /name: name must not be empty/);
    assert.deepEqual(await schoolNames(d.id), ['Lincoln High School', 'Roosevelt High']);
  });

  it('deletes a school only once no user belongs to it, saying how many do', async () => {
    const d = await createDistrict(h);
    const busy = await addSchool(d.id, 'Busy Elementary');
    const empty = await addSchool(d.id, 'Closed Campus');
    await h.db.pool.query(
      `INSERT INTO users (district_id, email, school_id, status)
       VALUES ($1, 'a@x.org', $2, 'active'), ($1, 'b@x.org', $2, 'active'), ($1, 'c@x.org', $2, 'archived')`,
      [d.id, busy.id],
    );
    const refused = await h.api().delete(`/districts/${d.id}/schools/${busy.id}`).expect(409);
    assert.match(refused.body.message, /still has 3 users \(2 active, 1 archived\)/);
    await h.api().delete(`/districts/${d.id}/schools/${empty.id}`).expect(204);
    assert.deepEqual(await schoolNames(d.id), ['Busy Elementary']);
    const again = await h.api().delete(`/districts/${d.id}/schools/${empty.id}`).expect(404);
    assert.match(again.body.message, /not found in district/);
  });

  it('adds schools in bulk, reporting each name', async () => {
    const d = await createDistrict(h);
    await addSchool(d.id, 'Existing Middle');
    const res = await h
      .api()
      .post(`/districts/${d.id}/schools/bulk`)
      .send({ names: ['North High', 'Existing Middle', '', 'x'.repeat(201), ' South High ', 'North High'] })
      .expect(200);
    const results = res.body.results as BulkResult[];
    assert.deepEqual(
      results.map((r) => [r.name.slice(0, 20), r.status]),
      [
        ['North High', 'created'],
        ['Existing Middle', 'exists'],
        ['', 'invalid'],
        ['x'.repeat(20), 'invalid'],
        ['South High', 'created'],
        ['North High', 'exists'],
      ],
    );
    assert.deepEqual([res.body.created, res.body.existing, res.body.invalid], [2, 2, 2]);
    assert.match(results[2].message!, /name must not be empty/);
    assert.match(results[3].message!, /at most 200 characters/);
    assert.equal(results[0].school!.id, results[5].school!.id);
    assert.deepEqual(await schoolNames(d.id), ['Existing Middle', 'North High', 'South High']);

    const tooMany = await h
      .api()
      .post(`/districts/${d.id}/schools/bulk`)
      .send({ names: Array.from({ length: 1001 }, (_, i) => `S${i}`) })
      .expect(400);
    assert.match(tooMany.body.message, /names: names must list at most 1000 schools/);
    await h.api().post(`/districts/${d.id}/schools/bulk`).send({ names: [] }).expect(400);
    await h
      .api()
      .post(`/districts/${d.id}/schools/bulk`)
      .send({ names: [42] })
      .expect(400);
    const thousand = await h
      .api()
      .post(`/districts/${d.id}/schools/bulk`)
      .send({ names: Array.from({ length: 1000 }, (_, i) => `School ${i}`) })
      .expect(200);
    assert.equal(thousand.body.created, 1000);
  });

  it("keeps a district key to its own district's schools: any other is 404", async () => {
    const a = await createDistrict(h);
    const b = await createDistrict(h);
    const schoolA = await addSchool(a.id, 'Shared Name');
    const schoolB = await addSchool(b.id, 'Shared Name');
    const keyA = bearerAgent(h.app, await issueKey(h, a.id), h.responses);
    await keyA.get(`/districts/${a.id}/schools`).expect(200);
    await keyA
      .post(`/districts/${a.id}/schools/bulk`)
      .send({ names: ['Own Bulk'] })
      .expect(200);
    await keyA.patch(`/districts/${a.id}/schools/${schoolA.id}`).send({ name: 'Renamed A' }).expect(200);
    await keyA.get(`/districts/${b.id}/schools`).expect(404);
    await keyA.post(`/districts/${b.id}/schools`).send({ name: 'Intruder' }).expect(404);
    await keyA
      .post(`/districts/${b.id}/schools/bulk`)
      .send({ names: ['Intruder'] })
      .expect(404);
    await keyA.patch(`/districts/${b.id}/schools/${schoolB.id}`).send({ name: 'Intruder' }).expect(404);
    await keyA.delete(`/districts/${b.id}/schools/${schoolB.id}`).expect(404);
    // Another district's school under one's own district is unknown there.
    await keyA.patch(`/districts/${a.id}/schools/${schoolB.id}`).send({ name: 'Intruder' }).expect(404);
    await keyA.delete(`/districts/${a.id}/schools/${schoolB.id}`).expect(404);
    await h.api().delete(`/districts/${a.id}/schools/${schoolB.id}`).expect(404);
    assert.deepEqual(await schoolNames(b.id), ['Shared Name']);
  });
});
