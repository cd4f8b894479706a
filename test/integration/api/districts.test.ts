import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDistrict, useApi } from './api-harness';

describe('API: auth, health, districts, schools, reference', () => {
  const h = useApi();
  /** Creates a district with the operator token, expecting `status`. */
  const postDistrict = (body: object, status: number) => h.api().post('/districts').send(body).expect(status);

  it('answers /health without a token and reports both dependencies up', async () => {
    const res = await h.anon().get('/health').expect(200);
    assert.deepEqual(res.body, { ok: true, database: 'up', temporal: 'up' });
  });

  it('serves the OpenAPI document and Swagger UI without a token', async () => {
    const json = await h.anon().get('/docs-json').expect(200);
    const doc = json.body as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    assert.ok(doc.paths['/districts/{id}/sync-now'], 'sync-now is documented');
    assert.ok(doc.paths['/districts/{id}/sync-config'], 'sync-config is documented');
    assert.ok(Object.keys(doc.components.schemas).some((name) => /SyncConfig/.test(name)));
    const ui = await h.anon().get('/docs').redirects(1).expect(200);
    assert.match(ui.text, /swagger/i);
  });

  it('refuses every other route without the bearer token, with a JSON error saying what to send', async () => {
    for (const url of ['/districts', '/error-codes', '/templates/users.csv']) {
      const res = await h.anon().get(url).expect(401);
      assert.equal(res.body.statusCode, 401);
      assert.equal(res.body.error, 'Unauthorized');
      assert.match(res.body.message, /Authorization: Bearer/);
    }
    const wrong = await h.anon().get('/districts').set('Authorization', 'Bearer not-the-token').expect(401);
    assert.match(wrong.body.message, /Invalid API token/);
    await h.anon().post('/districts').send({ name: 'x', slug: 'xx', timeZone: 'UTC' }).expect(401);
  });

  it('creates, lists and gets districts; the slug is unique', async () => {
    const res = await postDistrict(
      { name: 'Springfield USD', slug: 'springfield-usd', timeZone: 'america/new_york' },
      201,
    );
    assert.equal(res.body.slug, 'springfield-usd');
    assert.equal(res.body.timeZone, 'America/New_York', 'time zone stored in canonical spelling');
    const id = res.body.id as string;
    const got = await h.api().get(`/districts/${id}`).expect(200);
    assert.equal(got.body.name, 'Springfield USD');
    const list = await h.api().get('/districts').expect(200);
    assert.ok(list.body.total >= 1);
    assert.ok((list.body.districts as Array<{ id: string }>).some((d) => d.id === id));
    const dup = await postDistrict({ name: 'Other', slug: 'springfield-usd', timeZone: 'UTC' }, 409);
    assert.match(dup.body.message, /slug "springfield-usd" already exists/);
  });

  it('explains each invalid district field', async () => {
    const res = await postDistrict({ name: '', slug: 'Bad Slug!', timeZone: 'Mars/Olympus_Mons' }, 400);
    assert.equal(res.body.error, 'Bad Request');
    assert.match(res.body.message, /name: name must not be empty/);
    assert.match(res.body.message, /slug: slug must be 2-63 lowercase letters/);
    assert.match(res.body.message, /timeZone: timeZone must be an IANA time zone name/);
    const extra = await postDistrict({ name: 'A', slug: 'abc', timeZone: 'UTC', timezone: 'UTC' }, 400);
    assert.match(extra.body.message, /timezone/, 'an unknown (misspelled) key is named');
    const malformed = await h
      .api()
      .post('/districts')
      .set('Content-Type', 'application/json')
      .send('{"name": ')
      .expect(400);
    assert.match(malformed.body.message, /not valid JSON/);
  });

  it('answers 404 for unknown ids and 400 for ids that are not uuids', async () => {
    const missing = await h.api().get('/districts/3f2504e0-4f89-41d3-9a0c-0305e82c3301').expect(404);
    assert.deepEqual(Object.keys(missing.body).sort(), ['error', 'message', 'statusCode']);
    assert.match(missing.body.message, /not found/);
    const bad = await h.api().get('/districts/42').expect(400);
    assert.match(bad.body.message, /must be a UUID/);
  });

  it('pages districts within bounds', async () => {
    const res = await h.api().get('/districts?limit=1000').expect(400);
    assert.match(res.body.message, /limit must be at most 100/);
    const one = await h.api().get('/districts?limit=1&offset=0').expect(200);
    assert.equal(one.body.districts.length, 1);
  });

  it('creates and lists schools, refusing duplicates per district', async () => {
    const d = await createDistrict(h);
    const other = await createDistrict(h);
    const s = await h.api().post(`/districts/${d.id}/schools`).send({ name: 'Lincoln High' }).expect(201);
    assert.equal(s.body.districtId, d.id);
    const dup = await h.api().post(`/districts/${d.id}/schools`).send({ name: 'Lincoln High' }).expect(409);
    assert.match(dup.body.message, /already has a school named "Lincoln High"/);
    // The same name in another district is a different school.
    await h.api().post(`/districts/${other.id}/schools`).send({ name: 'Lincoln High' }).expect(201);
    const list = await h.api().get(`/districts/${d.id}/schools`).expect(200);
    assert.deepEqual(
      (list.body as Array<{ name: string }>).map((x) => x.name),
      ['Lincoln High'],
    );
    await h.api().get('/districts/3f2504e0-4f89-41d3-9a0c-0305e82c3301/schools').expect(404);
  });

  it("lists a district's users by status, never another district's", async () => {
    const d = await createDistrict(h);
    const other = await createDistrict(h);
    await h.db.pool.query(
      `INSERT INTO users (district_id, email, first_name, last_name, status, row_hash)
       VALUES ($1, 'a@x.org', 'Ann', 'Active', 'active', 'h1'), ($1, 'b@x.org', 'Bob', 'Gone', 'archived', 'h2'),
              ($2, 'c@x.org', 'Cid', 'Elsewhere', 'active', 'h3')`,
      [d.id, other.id],
    );
    const all = await h.api().get(`/districts/${d.id}/users`).expect(200);
    assert.equal(all.body.total, 2);
    const archived = await h.api().get(`/districts/${d.id}/users?status=archived`).expect(200);
    assert.deepEqual(
      (archived.body.users as Array<{ email: string }>).map((u) => u.email),
      ['b@x.org'],
    );
    assert.ok(!JSON.stringify(all.body).includes('rowHash'));
    const bad = await h.api().get(`/districts/${d.id}/users?status=deleted`).expect(400);
    assert.match(bad.body.message, /status must be "active" or "archived"/);
  });

  it('serves the error dictionary and a blank CSV template', async () => {
    const codes = await h.api().get('/error-codes').expect(200);
    const list = codes.body as Array<{ code: string; fix: string }>;
    assert.ok(list.some((c) => c.code === 'MISSING_REQUIRED_COLUMN'));
    assert.ok(list.every((c) => c.fix.length > 0));
    const tpl = await h.api().get('/templates/users.csv').expect(200);
    assert.match(String(tpl.headers['content-type']), /^text\/csv/);
    assert.match(String(tpl.headers['content-disposition']), /attachment; filename="users.csv"/);
    const lines = tpl.text.trim().split(/\r?\n/);
    assert.equal(lines.length, 1, 'header row only');
    assert.match(lines[0], /First Name/i);
  });
});
