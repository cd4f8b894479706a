import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, BASE_CONFIG, bearerAgent, createDistrict, issueKey, startApi } from './api-harness';

interface AuditEventView {
  id: string;
  districtId: string | null;
  kind: string;
  actor: string;
  address: string | null;
  at: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}
interface AuditPage {
  total: number;
  events: AuditEventView[];
}

const EXTERNAL_PASSWORD = 'district-server-password-must-not-leak';

describe('API: audit trail', () => {
  let h: ApiHarness;
  let a: { id: string; slug: string };
  let b: { id: string; slug: string };
  let aKey: string;
  const keyResponses: string[] = [];
  const withKey = (key: string) => bearerAgent(h.app, key, keyResponses);

  const trail = async (districtId: string, query = ''): Promise<AuditPage> =>
    (await h.api().get(`/districts/${districtId}/audit${query}`).expect(200)).body as AuditPage;

  before(async () => {
    h = await startApi();
    a = await createDistrict(h);
    b = await createDistrict(h);
    aKey = await issueKey(h, a.id);
  });
  after(async () => {
    await h.close();
  });

  it('records who changed what, when and from where, newest first, for each kind of change', async () => {
    await withKey(aKey).put(`/districts/${a.id}/sync-config`).send(BASE_CONFIG).expect(200);
    await withKey(aKey)
      .put(`/districts/${a.id}/sync-config`)
      .send({ ...BASE_CONFIG, errorThresholdPct: 5 })
      .expect(200);
    const school = (
      await withKey(aKey).post(`/districts/${a.id}/schools`).send({ name: 'Lincoln Elementary' }).expect(201)
    ).body as { id: string };
    await withKey(aKey)
      .patch(`/districts/${a.id}/schools/${school.id}`)
      .send({ name: 'Lincoln Elem' })
      .expect(200);
    await withKey(aKey)
      .post(`/districts/${a.id}/schools/bulk`)
      .send({ names: ['Adams Middle', 'Lincoln Elem'] })
      .expect(200);
    await withKey(aKey).delete(`/districts/${a.id}/schools/${school.id}`).expect(204);
    await withKey(aKey).post(`/districts/${a.id}/sftp-credentials/password`).expect(200);
    await h.api().post(`/districts/${a.id}/sync-now`).send({ dryRun: true }).expect(202);

    const page = await trail(a.id, '?limit=100');
    const kinds = page.events.map((e) => e.kind);
    assert.deepEqual(kinds, [
      'run.sync_now',
      'sftp.password_regenerated',
      'school.deleted',
      'schools.bulk_created',
      'school.renamed',
      'school.created',
      'sync_config.saved',
      'sync_config.saved',
      'api_key.issued',
      'district.created',
    ]);
    assert.equal(page.total, kinds.length);
    const prefix = aKey.slice(0, 12);
    const byKind = (kind: string) => page.events.find((e) => e.kind === kind)!;
    assert.equal(byKind('school.created').actor, `key ${prefix}`);
    assert.equal(byKind('run.sync_now').actor, 'operator');
    assert.equal(byKind('district.created').actor, 'operator');
    assert.ok(byKind('school.created').address, 'the client address is recorded');
    assert.ok(Date.now() - Date.parse(byKind('school.created').at) < 60_000);

    const renamed = byKind('school.renamed');
    assert.equal(renamed.before?.name, 'Lincoln Elementary');
    assert.equal(renamed.after?.name, 'Lincoln Elem');
    assert.equal(byKind('school.deleted').before?.name, 'Lincoln Elem');
    assert.deepEqual(byKind('schools.bulk_created').after, { created: ['Adams Middle'] });

    const [second, first] = page.events.filter((e) => e.kind === 'sync_config.saved');
    assert.equal(first.before, null, 'the first save had nothing before it');
    assert.equal(second.before?.errorThresholdPct, -1);
    assert.equal(second.after?.errorThresholdPct, 5);
    assert.equal(byKind('run.sync_now').after?.dryRun, true);
  });

  it('keeps the district as it was and as it became when an admin renames it', async () => {
    await h.api().patch(`/districts/${a.id}`).send({ name: 'Springfield Public Schools' }).expect(200);
    const [event] = (await trail(a.id, '?kind=district.updated')).events;
    assert.equal(event.before?.name, `District ${a.slug}`);
    assert.equal(event.after?.name, 'Springfield Public Schools');
    assert.equal(event.actor, 'operator');
  });

  it('filters by kind and pages', async () => {
    const configs = await trail(a.id, '?kind=sync_config.saved');
    assert.equal(configs.total, 2);
    assert.ok(configs.events.every((e) => e.kind === 'sync_config.saved'));
    const firstPage = await trail(a.id, '?limit=2');
    const secondPage = await trail(a.id, '?limit=2&offset=2');
    assert.equal(firstPage.events.length, 2);
    assert.notEqual(firstPage.events[1].id, secondPage.events[0].id);
    const refused = await h.api().get(`/districts/${a.id}/audit?kind=not-a-kind`).expect(400);
    assert.match(JSON.stringify(refused.body), /kind/);
  });

  it('never records a secret: external passwords, new SFTP passwords, API keys', async () => {
    await h
      .api()
      .put(`/districts/${b.id}/sync-config`)
      .send({
        ...BASE_CONFIG,
        source: 'external',
        external: {
          host: '203.0.113.10',
          port: 22,
          username: 'rostersync',
          path: '/exports',
          hostKeyFingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
          password: EXTERNAL_PASSWORD,
        },
      })
      .expect(200);
    const issued = (await h.api().post(`/districts/${b.id}/api-keys`).send({ label: 'nightly' }).expect(201))
      .body as { key: string; id: string };
    const password = (await h.api().post(`/districts/${b.id}/sftp-credentials/password`).expect(200))
      .body as {
      password: string;
    };
    await h.api().delete(`/districts/${b.id}/api-keys/${issued.id}`).expect(204);

    const { rows } = await h.db.pool.query<{ doc: string }>(
      `SELECT concat(before::text, ' ', after::text) AS doc FROM audit_events WHERE district_id = $1`,
      [b.id],
    );
    const stored = rows.map((r) => r.doc).join('\n');
    for (const secret of [EXTERNAL_PASSWORD, issued.key, issued.key.slice(12), password.password])
      assert.ok(!stored.includes(secret), 'no secret reaches the audit trail');
    const kinds = (await trail(b.id)).events.map((e) => e.kind);
    assert.deepEqual(kinds.slice(0, 4), [
      'api_key.revoked',
      'sftp.password_regenerated',
      'api_key.issued',
      'sync_config.saved',
    ]);
    const saved = (await trail(b.id, '?kind=sync_config.saved')).events[0];
    assert.equal((saved.after?.external as { hasPassword: boolean }).hasPassword, true);
  });

  it("lets a district key read only its own district's trail; the operator reads every district's", async () => {
    await withKey(aKey).get(`/districts/${a.id}/audit`).expect(200);
    await withKey(aKey).get(`/districts/${b.id}/audit`).expect(404);
    await withKey(aKey).get('/audit').expect(403);
    const all = (await h.api().get('/audit?limit=100').expect(200)).body as AuditPage;
    const districts = new Set(all.events.map((e) => e.districtId));
    assert.ok(districts.has(a.id) && districts.has(b.id));
    assert.ok(!keyResponses.some((body) => body.includes(b.id)), 'nothing of district B reached district A');
  });
});
