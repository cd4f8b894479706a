import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, BASE_CONFIG, bearerAgent, createDistrict, startApi } from './api-harness';

interface IssuedKey {
  id: string;
  key: string;
  prefix: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

describe('API: per-district API keys', () => {
  let h: ApiHarness;
  let a: { id: string; slug: string };
  let b: { id: string; slug: string };
  let bRunId: string;
  /** Every response body a district key received, to scan for leaked keys. */
  const keyResponses: string[] = [];
  const issuedKeys: string[] = [];

  /** supertest with a district key as the bearer credential. */
  const withKey = (key: string) => bearerAgent(h.app, key, keyResponses);

  const issue = async (districtId: string, label?: string): Promise<IssuedKey> => {
    const req = h.api().post(`/districts/${districtId}/api-keys`);
    const res = await (label === undefined ? req : req.send({ label })).expect(201);
    const issued = res.body as IssuedKey;
    issuedKeys.push(issued.key);
    return issued;
  };

  before(async () => {
    h = await startApi();
    a = await createDistrict(h);
    b = await createDistrict(h);
    await h.api().put(`/districts/${a.id}/sync-config`).send(BASE_CONFIG).expect(200);
    await h.api().put(`/districts/${b.id}/sync-config`).send(BASE_CONFIG).expect(200);
    bRunId = (await h.api().post(`/districts/${b.id}/sync-now`).send({ dryRun: true }).expect(202)).body
      .runId as string;
  });
  after(async () => {
    await h.close();
  });

  it('issues a key once, stores only its SHA-256 and a display prefix, and lists it without the key', async () => {
    const issued = await issue(a.id, 'SIS nightly export');
    assert.match(issued.key, /^rsk_[A-Za-z0-9]{43}$/);
    assert.equal(issued.prefix, issued.key.slice(0, 12));
    assert.equal(issued.label, 'SIS nightly export');
    assert.equal(issued.lastUsedAt, null);
    assert.equal(issued.revokedAt, null);

    const { rows } = await h.db.pool.query<{ key_hash: Buffer; prefix: string; district_id: string }>(
      'SELECT * FROM api_keys WHERE id = $1',
      [issued.id],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].district_id, a.id);
    assert.deepEqual(rows[0].key_hash, crypto.createHash('sha256').update(issued.key).digest());
    assert.ok(!JSON.stringify(rows[0]).includes(issued.key.slice(12)), 'the secret part is not stored');

    const list = await h.api().get(`/districts/${a.id}/api-keys`).expect(200);
    assert.equal(list.body.total, 1);
    assert.deepEqual(Object.keys(list.body.apiKeys[0]).sort(), [
      'createdAt',
      'id',
      'label',
      'lastUsedAt',
      'prefix',
      'revokedAt',
    ]);
    assert.equal(list.body.apiKeys[0].prefix, issued.prefix);

    // No body at all issues a key without a label; an unknown key in the body is refused.
    const unlabelled = await issue(a.id);
    assert.equal(unlabelled.label, null);
    assert.notEqual(unlabelled.key, issued.key);
    const bad = await h.api().post(`/districts/${a.id}/api-keys`).send({ name: 'x' }).expect(400);
    assert.match(bad.body.message, /Unrecognized key/i);
    await h.api().post(`/districts/${crypto.randomUUID()}/api-keys`).expect(404);
  });

  it("lets a district key work on its own district's routes and records when it was last used", async () => {
    const { id, key } = await issue(a.id, 'admin');
    const k = withKey(key);
    assert.equal((await k.get(`/districts/${a.id}`).expect(200)).body.id, a.id);
    await k.post(`/districts/${a.id}/schools`).send({ name: 'Lincoln High School' }).expect(201);
    assert.equal((await k.get(`/districts/${a.id}/schools`).expect(200)).body.length, 1);
    assert.equal((await k.get(`/districts/${a.id}/users`).expect(200)).body.total, 0);
    await k.get(`/districts/${a.id}/sync-config`).expect(200);
    const saved = await k
      .put(`/districts/${a.id}/sync-config`)
      .send({ ...BASE_CONFIG, maxArchivePct: 5 })
      .expect(200);
    assert.equal(saved.body.maxArchivePct, 5);
    await k.get(`/districts/${a.id}/sftp-credentials`).expect(200);
    const runId = (await k.post(`/districts/${a.id}/sync-now`).send({ dryRun: true }).expect(202)).body
      .runId as string;
    assert.equal((await k.get(`/districts/${a.id}/runs`).expect(200)).body.runs[0].id, runId);
    await k.get(`/districts/${a.id}/runs/${runId}`).expect(200);
    // The reference routes are for every district.
    await k.get('/error-codes').expect(200);
    await k.get('/templates/users.csv').expect(200);

    const listed = await h.api().get(`/districts/${a.id}/api-keys`).expect(200);
    const row = (listed.body.apiKeys as IssuedKey[]).find((x) => x.id === id);
    assert.ok(row?.lastUsedAt, 'lastUsedAt is set after use');
    // Within the minute it is not rewritten on every request.
    await h.db.pool.query(`UPDATE api_keys SET last_used_at = now() - interval '30 seconds' WHERE id = $1`, [
      id,
    ]);
    const before = (await h.db.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [id])).rows[0];
    await k.get(`/districts/${a.id}/users`).expect(200);
    const afterUse = (await h.db.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [id])).rows[0];
    assert.deepEqual(afterUse, before);
  });

  it("answers 404 on another district's routes, exactly as for an unknown district, and changes nothing there", async () => {
    const { key } = await issue(a.id);
    const k = withKey(key);
    const unknown = crypto.randomUUID();
    const bodies = new Set<string>();
    for (const districtId of [b.id, unknown]) {
      const attempts = [
        k.get(`/districts/${districtId}`),
        k.get(`/districts/${districtId}/users`),
        k.get(`/districts/${districtId}/runs`),
        k.get(`/districts/${districtId}/runs/${bRunId}`),
        k.get(`/districts/${districtId}/sync-config`),
        k.put(`/districts/${districtId}/sync-config`).send({ ...BASE_CONFIG, maxArchivePct: 100 }),
        k.post(`/districts/${districtId}/sftp-credentials/password`),
        k.post(`/districts/${districtId}/sync-now`).send({}),
        k.post(`/districts/${districtId}/runs/${bRunId}/approve`),
      ];
      for (const attempt of attempts) {
        const res = await attempt.expect(404);
        bodies.add(res.text);
      }
    }
    assert.equal(bodies.size, 1, 'one answer for every other district, existing or not');
    assert.match([...bodies][0], /District not found/);

    const config = await h.api().get(`/districts/${b.id}/sync-config`).expect(200);
    assert.equal(config.body.maxArchivePct, BASE_CONFIG.maxArchivePct);
    const sftp = await h.api().get(`/districts/${b.id}/sftp-credentials`).expect(200);
    assert.equal(sftp.body.account, null, "B's SFTP password was not generated");
    const runs = await h.db.pool.query('SELECT count(*)::int AS n FROM sync_runs WHERE district_id = $1', [
      b.id,
    ]);
    assert.equal(runs.rows[0].n, 1, 'no run was queued for B');
  });

  it('answers 403 on routes outside its district, including key management', async () => {
    const { id, key } = await issue(a.id);
    const k = withKey(key);
    const refused = [
      k.get('/districts'),
      k.post('/districts').send({ name: 'Mine', slug: 'mine-now', timeZone: 'UTC' }),
      k.get(`/districts/${a.id}/api-keys`),
      k.post(`/districts/${a.id}/api-keys`).send({ label: 'successor' }),
      k.delete(`/districts/${a.id}/api-keys/${id}`),
      k.get(`/districts/${b.id}/api-keys`),
    ];
    for (const attempt of refused) {
      const res = await attempt.expect(403);
      assert.equal(res.body.error, 'Forbidden');
      assert.match(res.body.message, /district API key cannot call this route/);
    }
    const { rows } = await h.db.pool.query('SELECT count(*)::int AS n FROM districts WHERE slug = $1', [
      'mine-now',
    ]);
    assert.equal(rows[0].n, 0);
    const keys = await h.api().get(`/districts/${a.id}/api-keys?limit=100`).expect(200);
    assert.ok(!(keys.body.apiKeys as IssuedKey[]).some((x) => x.label === 'successor'));
    assert.equal((keys.body.apiKeys as IssuedKey[]).find((x) => x.id === id)?.revokedAt, null);
  });

  it('refuses a revoked key and a made-up one with 401; revoking is idempotent and scoped', async () => {
    const issued = await issue(a.id, 'to revoke');
    const k = withKey(issued.key);
    await k.get(`/districts/${a.id}/users`).expect(200);
    await h.api().delete(`/districts/${b.id}/api-keys/${issued.id}`).expect(404);
    await k.get(`/districts/${a.id}/users`).expect(200);
    await h.api().delete(`/districts/${a.id}/api-keys/${issued.id}`).expect(204);
    const refused = await k.get(`/districts/${a.id}/users`).expect(401);
    assert.match(refused.body.message, /Invalid API key: it is unknown or has been revoked/);

    const listed = await h.api().get(`/districts/${a.id}/api-keys?limit=100`).expect(200);
    const row = (listed.body.apiKeys as IssuedKey[]).find((x) => x.id === issued.id);
    assert.ok(row?.revokedAt);
    await h.api().delete(`/districts/${a.id}/api-keys/${issued.id}`).expect(204);
    const again = await h.api().get(`/districts/${a.id}/api-keys?limit=100`).expect(200);
    assert.equal(
      (again.body.apiKeys as IssuedKey[]).find((x) => x.id === issued.id)?.revokedAt,
      row.revokedAt,
    );
    await h.api().delete(`/districts/${a.id}/api-keys/${crypto.randomUUID()}`).expect(404);

    // Same prefix, different secret: refused, as is a key-shaped value nobody issued.
    const forged = issued.prefix + 'A'.repeat(issued.key.length - issued.prefix.length);
    await withKey(forged).get(`/districts/${a.id}/users`).expect(401);
    await withKey(`rsk_${'B'.repeat(43)}`)
      .get(`/districts/${a.id}/users`)
      .expect(401);
  });

  it('keeps the operator token working on every route, including districts with keys', async () => {
    await h.api().get('/districts').expect(200);
    for (const d of [a, b]) {
      await h.api().get(`/districts/${d.id}/users`).expect(200);
      await h.api().get(`/districts/${d.id}/runs`).expect(200);
      await h.api().get(`/districts/${d.id}/sync-config`).expect(200);
      await h.api().get(`/districts/${d.id}/api-keys`).expect(200);
    }
    await h.api().get('/error-codes').expect(200);
  });

  it('documents the key routes in the OpenAPI document', async () => {
    const doc = (await h.anon().get('/docs-json').expect(200)).body as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/districts/{id}/api-keys']);
    assert.ok(doc.paths['/districts/{id}/api-keys/{keyId}']);
  });

  it('never shows a key again after the response that issued it', () => {
    assert.ok(issuedKeys.length >= 5);
    const all = [...h.responses, ...keyResponses];
    for (const key of issuedKeys) {
      const secret = key.slice(12);
      const hashHex = crypto.createHash('sha256').update(key).digest('hex');
      assert.equal(all.filter((text) => text.includes(secret)).length, 1, 'only the issuing response');
      assert.ok(!all.some((text) => text.includes(hashHex)));
    }
  });
});
