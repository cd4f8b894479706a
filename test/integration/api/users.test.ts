import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SyncHarness } from '../sync/sync-harness';
import { internalId, people, rosterText } from '../sync/roster-text';
import { bearerAgent, createDistrict, issueKey, useApi } from './api-harness';

interface ListedUser {
  id: string;
  email: string | null;
  firstName: string;
  lastName: string;
  role: string | null;
  status: string;
}

interface RunRef {
  id: string;
  trigger: string;
  status: string;
}

interface UserDetail extends ListedUser {
  internalId: string | null;
  customFields: Record<string, string>;
  protected: boolean;
  schools: Array<{ id: string; name: string }>;
  runs: { created: RunRef | null; changed: RunRef | null; archived: RunRef | null };
}

describe('API: users (search, detail, protection)', () => {
  const h = useApi();
  const harnesses: SyncHarness[] = [];
  after(() => harnesses.forEach((s) => s.cleanup()));

  /** A district with users written straight to the table, and its API key. */
  async function districtWithUsers(): Promise<{ id: string; key: string; ids: Record<string, string> }> {
    const d = await createDistrict(h);
    const { rows } = await h.db.pool.query<{ id: string; email: string }>(
      `INSERT INTO users (district_id, email, first_name, last_name, internal_id, accounting_id, clever_id, role, status)
       VALUES ($1, 'jennifer.moore@district.org', 'Jennifer', 'Moore', 'EMP-107', 'ACC9001', 'clv_abc', 'Teacher', 'active'),
              ($1, 'jen.morales@district.org', 'Jen', 'Morales', 'EMP-200', 'ACC9002', 'clv_def', 'Student', 'active'),
              ($1, 'oscar.old@district.org', 'Oscar', 'Mooney', 'STU_1', NULL, NULL, 'Student', 'archived'),
              ($1, 'pct@district.org', '100%', 'Percent', 'X_1', NULL, NULL, 'Staff', 'active')
       RETURNING id, email`,
      [d.id],
    );
    return {
      id: d.id,
      key: await issueKey(h, d.id),
      ids: Object.fromEntries(rows.map((r) => [r.email.split('@')[0], r.id])),
    };
  }

  const emails = (body: { users: ListedUser[] }): string[] => body.users.map((u) => u.email!).sort();

  it('finds users by a case-insensitive prefix of a name, the email or any id', async () => {
    const d = await districtWithUsers();
    const search = async (q: string, extra = ''): Promise<string[]> => {
      const res = await h
        .api()
        .get(`/districts/${d.id}/users?q=${encodeURIComponent(q)}${extra}`)
        .expect(200);
      assert.equal(res.body.total, res.body.users.length);
      return emails(res.body as { users: ListedUser[] });
    };
    const moore = ['jennifer.moore@district.org'];
    assert.deepEqual(await search('JEN'), ['jen.morales@district.org', 'jennifer.moore@district.org']);
    assert.deepEqual(await search('jennifer m'), moore, 'full name');
    assert.deepEqual(await search('moor'), moore, 'last name');
    assert.deepEqual(await search('Jennifer.Moore@'), moore, 'email');
    assert.deepEqual(await search('emp-1'), moore, 'internal id');
    assert.deepEqual(await search('acc9001'), moore, 'accounting id');
    assert.deepEqual(await search('CLV_A'), moore, 'clever id');
    assert.deepEqual(await search(d.ids['jennifer.moore'].slice(0, 13).toUpperCase()), moore, 'platform id');
    assert.deepEqual(await search('ore'), [], 'a prefix, not a substring');
    // LIKE's own characters match only themselves.
    assert.deepEqual(await search('100%'), ['pct@district.org']);
    assert.deepEqual(await search('%'), []);
    assert.deepEqual(await search('x_'), ['pct@district.org']);
    assert.deepEqual(await search('j_n'), []);
    // Filters combine with the search; the role is spelled as a roster may spell it.
    assert.deepEqual(await search('moo', '&status=archived'), ['oscar.old@district.org']);
    assert.deepEqual(await search('', '&role=student'), [
      'jen.morales@district.org',
      'oscar.old@district.org',
    ]);
    assert.deepEqual(await search('j', '&role=Teacher&status=active'), moore);
    const paged = await h.api().get(`/districts/${d.id}/users?q=j&limit=1&offset=1`).expect(200);
    assert.equal(paged.body.total, 2);
    assert.deepEqual(emails(paged.body as { users: ListedUser[] }), ['jen.morales@district.org']);
  });

  it('refuses a search over 100 characters and an unknown role, saying what is allowed', async () => {
    const d = await districtWithUsers();
    const long = await h
      .api()
      .get(`/districts/${d.id}/users?q=${'a'.repeat(101)}`)
      .expect(400);
    assert.match(long.body.message, /q: q must be at most 100 characters/);
    await h
      .api()
      .get(`/districts/${d.id}/users?q=${'a'.repeat(100)}`)
      .expect(200);
    const role = await h.api().get(`/districts/${d.id}/users?role=wizard`).expect(400);
    assert.match(role.body.message, /role: role must be one of Teacher, Coach/);
    const twice = await h.api().get(`/districts/${d.id}/users?q=a&q=b`).expect(400);
    assert.match(twice.body.message, /q must be given once/);
  });

  it("keeps a district key to its own district's users: any other is 404", async () => {
    const a = await districtWithUsers();
    const b = await districtWithUsers();
    const keyA = bearerAgent(h.app, a.key, h.responses);
    const list = await keyA.get(`/districts/${a.id}/users?q=jen`).expect(200);
    assert.equal(list.body.total, 2);
    const own = await keyA.get(`/districts/${a.id}/users/${a.ids['jen.morales']}`).expect(200);
    assert.equal(own.body.lastName, 'Morales');
    await keyA.get(`/districts/${b.id}/users?q=jen`).expect(404);
    await keyA.get(`/districts/${b.id}/users/${b.ids['jen.morales']}`).expect(404);
    await keyA
      .put(`/districts/${b.id}/users/${b.ids['jen.morales']}/protected`)
      .send({ protected: true })
      .expect(404);
    // Another district's user under one's own district is unknown there, for the operator too.
    const foreign = await keyA.get(`/districts/${a.id}/users/${b.ids['jen.morales']}`).expect(404);
    assert.match(foreign.body.message, /not found in district/);
    await h.api().get(`/districts/${a.id}/users/${b.ids['jen.morales']}`).expect(404);
    await keyA
      .put(`/districts/${a.id}/users/${b.ids['jen.morales']}/protected`)
      .send({ protected: true })
      .expect(404);
    const untouched = await h.db.pool.query('SELECT protected FROM users WHERE id = $1', [
      b.ids['jen.morales'],
    ]);
    assert.equal(untouched.rows[0].protected, false);
  });

  it("shows a user's school, role, custom fields and the runs that created, changed and archived it", async () => {
    const sync = await new SyncHarness(h.db.pool).setup({ matchingKey: 'internal_id' });
    harnesses.push(sync);
    const district = sync.districtId;
    const detail = async (n: number): Promise<UserDetail> => {
      const row = await sync.user('u.internal_id', internalId(n));
      return (await h.api().get(`/districts/${district}/users/${row!.id}`).expect(200)).body as UserDetail;
    };

    const first = await sync.sync({ name: 'users.csv', text: rosterText(people(3)) });
    const created = await detail(2);
    assert.equal(created.role, 'Teacher');
    assert.equal(created.internalId, 'T0002');
    assert.deepEqual(
      created.schools.map((s) => s.name),
      ['Roosevelt High School'],
    );
    assert.equal(created.customFields.Department, 'Math');
    assert.equal(created.protected, false);
    assert.equal(created.runs.created?.id, first.runId);
    assert.equal(created.runs.created?.status, 'succeeded');
    assert.equal(created.runs.changed, null);
    assert.equal(created.runs.archived, null);

    // Protected, user 3 is missing from the next file and stays active.
    const user3 = await detail(3);
    const put = await h
      .api()
      .put(`/districts/${district}/users/${user3.id}/protected`)
      .send({ protected: true })
      .expect(200);
    assert.equal(put.body.protected, true);
    assert.equal((await detail(3)).protected, true);
    const renamed = people(2).map((p) => (p.n === 2 ? { ...p, firstName: 'Renamed' } : p));
    const second = await sync.sync({ name: 'users.csv', text: rosterText(renamed) });
    assert.equal(second.apply?.archived, 0);
    const kept = await detail(3);
    assert.equal(kept.status, 'active');
    assert.equal(kept.runs.archived, null);
    const changed = await detail(2);
    assert.equal(changed.firstName, 'Renamed');
    assert.equal(changed.runs.created?.id, first.runId);
    assert.equal(changed.runs.changed?.id, second.runId);

    // Unprotected again, user 3 is archived by the next run that leaves it out, as is user 2.
    await h
      .api()
      .put(`/districts/${district}/users/${user3.id}/protected`)
      .send({ protected: false })
      .expect(200);
    const third = await sync.sync({ name: 'users.csv', text: rosterText(people(1)) });
    assert.equal(third.apply?.archived, 2);
    const archived = await detail(2);
    assert.equal(archived.status, 'archived');
    assert.equal(archived.runs.archived?.id, third.runId);
    assert.equal(archived.runs.changed?.id, second.runId);
    assert.equal((await detail(3)).runs.archived?.id, third.runId);
  });

  it('documents the users, schools and district routes in the OpenAPI document', async () => {
    const doc = (await h.anon().get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const methods = (p: string): string[] => Object.keys(doc.paths[p] ?? {}).sort();
    assert.deepEqual(methods('/districts/{id}'), ['get', 'patch']);
    assert.deepEqual(methods('/districts/{id}/users'), ['get']);
    assert.deepEqual(methods('/districts/{id}/users/{userId}'), ['get']);
    assert.deepEqual(methods('/districts/{id}/users/{userId}/protected'), ['put']);
    assert.deepEqual(methods('/districts/{id}/schools'), ['get', 'post']);
    assert.deepEqual(methods('/districts/{id}/schools/bulk'), ['post']);
    assert.deepEqual(methods('/districts/{id}/schools/{schoolId}'), ['delete', 'patch']);
    const listing = JSON.stringify(doc.paths['/districts/{id}/users'].get);
    for (const param of ['"q"', '"status"', '"role"', '"limit"', '"offset"'])
      assert.ok(listing.includes(param), param);
  });

  it('explains a wrong protection body and an unknown user', async () => {
    const d = await districtWithUsers();
    const url = `/districts/${d.id}/users/${d.ids['jen.morales']}/protected`;
    const bad = await h.api().put(url).send({ protected: 'yes' }).expect(400);
    assert.match(bad.body.message, /protected: protected must be true or false/);
    await h.api().put(url).send({}).expect(400);
    const unknown = await h
      .api()
      .get(`/districts/${d.id}/users/3f2504e0-4f89-41d3-9a0c-0305e82c3301`)
      .expect(404);
    assert.match(unknown.body.message, /GET \/districts\/.+\/users\?q=/);
    await h.api().get(`/districts/${d.id}/users/not-a-uuid`).expect(400);
  });
});
