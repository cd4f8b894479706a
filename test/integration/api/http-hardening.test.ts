import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createApiApp } from '../../../apps/api/app';
import { API_TOKEN, type ApiHarness, BASE_CONFIG, createDistrict, issueKey, startApi } from './api-harness';

const PER_CREDENTIAL = 8;
const PER_ADDRESS = 30;

type Server = Parameters<typeof request>[0];
const randomKey = (): string =>
  'rsk_' +
  crypto
    .randomBytes(64)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 43);

/** 429 in the API's error shape, with a Retry-After within the minute window. */
function assertTooMany(res: request.Response, who: RegExp): void {
  assert.equal(res.status, 429, res.text);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${res.headers['retry-after']}`);
  assert.equal(res.body.statusCode, 429);
  assert.equal(res.body.error, 'Too Many Requests');
  assert.match(res.body.message as string, who);
  assert.match(res.body.message as string, new RegExp(`Try again in ${retryAfter} seconds?`));
}

describe('API: HTTP hardening (rate limits, security headers, body limit, docs)', () => {
  let h: ApiHarness;
  let district: { id: string };
  let key: string;
  const replicas: INestApplication[] = [];

  /** Another API process over the same database, as a second replica behind a load balancer. */
  async function replica(settings: Partial<ApiHarness['env']> = {}): Promise<Server> {
    const app = await createApiApp({
      env: { ...h.env, ...settings },
      pool: h.pools.api,
      exportsPool: h.pools.exports,
      temporalClient: h.temporal.client,
    });
    replicas.push(app);
    return app.getHttpServer() as Server;
  }

  before(async () => {
    h = await startApi({
      API_RATE_LIMIT_PER_CREDENTIAL: String(PER_CREDENTIAL),
      API_RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
    });
    district = await createDistrict(h);
    key = await issueKey(h, district.id);
  });
  // Each test starts with fresh windows: the counters of earlier tests are not its business.
  beforeEach(async () => {
    await h.db.pool.query('DELETE FROM api_rate_limits');
  });
  after(async () => {
    for (const app of replicas) await app.close();
    await h.close();
  });

  it('limits requests per credential, counted across replicas, without touching other credentials', async () => {
    const server = h.app.getHttpServer() as Server;
    const other = await replica();
    for (let i = 0; i < PER_CREDENTIAL; i++)
      await request(i % 2 === 0 ? server : other)
        .get(`/districts/${district.id}`)
        .set('Authorization', `Bearer ${key}`)
        .expect(200);
    for (const app of [server, other]) {
      const res = await request(app).get(`/districts/${district.id}`).set('Authorization', `Bearer ${key}`);
      assertTooMany(res, /^Too many requests with this credential: the limit is 8 a minute\./);
    }
    // The operator token has a window of its own.
    await request(server).get('/districts').set('Authorization', `Bearer ${API_TOKEN}`).expect(200);
  });

  it('limits requests per address before authentication, so made-up keys cost no lookup', async () => {
    const server = h.app.getHttpServer() as Server;
    for (let i = 0; i < PER_ADDRESS; i++) {
      const res = await request(server)
        .get(`/districts/${district.id}`)
        .set('Authorization', `Bearer ${randomKey()}`);
      assert.equal(res.status, 401, res.text);
    }
    // Over the address's limit even a valid key is refused: the limit comes before authentication.
    const res = await request(server).get(`/districts/${district.id}`).set('Authorization', `Bearer ${key}`);
    assertTooMany(res, /^Too many requests from your address: the limit is 30 a minute\./);
  });

  it('counts the address a trusted proxy forwarded, and ignores the header without one', async () => {
    const direct = h.app.getHttpServer() as Server;
    const behindProxy = await replica({ API_TRUST_PROXY_HOPS: 1 });
    const from = (server: Server, address: string) =>
      request(server).get('/health').set('X-Forwarded-For', address);
    // Behind the proxy, each client has its own window.
    for (let i = 0; i < PER_ADDRESS; i++) await from(behindProxy, '198.51.100.7');
    assertTooMany(await from(behindProxy, '198.51.100.7'), /from your address/);
    assert.notEqual((await from(behindProxy, '198.51.100.8')).status, 429);
    // Without a trusted proxy, a made-up header does not give a client a fresh window.
    await h.db.pool.query('DELETE FROM api_rate_limits');
    for (let i = 0; i < PER_ADDRESS; i++) await from(direct, `203.0.113.${i}`);
    assertTooMany(await from(direct, '203.0.113.250'), /from your address/);
  });

  it('refuses values that cannot be a credential without keeping anything for them', async () => {
    const server = h.app.getHttpServer() as Server;
    for (const token of ['rsk_short', `rsk_${'!'.repeat(43)}`, 'not-a-token', 'x'.repeat(4000)]) {
      const res = await request(server).get('/districts').set('Authorization', `Bearer ${token}`).expect(401);
      assert.match(res.body.message as string, /^Invalid API token/);
    }
    const { rows } = await h.db.pool.query<{ key: string }>('SELECT key FROM api_rate_limits ORDER BY key');
    assert.deepEqual(
      rows.map((r) => r.key.split(':')[0]),
      ['address'],
      'only the address is counted for values that are no credential',
    );
  });

  it('sends security headers on every answer', async () => {
    const server = h.app.getHttpServer() as Server;
    for (const res of [
      await request(server).get('/health'),
      await request(server).get('/districts').set('Authorization', `Bearer ${API_TOKEN}`).expect(200),
      await request(server).get('/districts').expect(401),
    ]) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
      assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/);
      assert.match(res.headers['strict-transport-security'] as string, /max-age=\d+/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['x-powered-by'], undefined);
    }
  });

  it('refuses a JSON body over 100 kB with 413 and says what the limit is', async () => {
    const server = h.app.getHttpServer() as Server;
    const huge = {
      ...BASE_CONFIG,
      notifyEmails: Array.from({ length: 6000 }, (_, i) => `admin${i}@district.example`),
    };
    assert.ok(JSON.stringify(huge).length > 100 * 1024);
    const res = await request(server)
      .put(`/districts/${district.id}/sync-config`)
      .set('Authorization', `Bearer ${API_TOKEN}`)
      .send(huge)
      .expect(413);
    assert.equal(res.body.statusCode, 413);
    assert.equal(res.body.error, 'Payload Too Large');
    assert.match(res.body.message as string, /the limit is 100 kB/);
    // Just under the limit the body is read and judged on its content.
    const under = { ...BASE_CONFIG, notifyEmails: Array.from({ length: 3000 }, (_, i) => `a${i}@d.example`) };
    assert.ok(JSON.stringify(under).length < 100 * 1024);
    const judged = await request(server)
      .put(`/districts/${district.id}/sync-config`)
      .set('Authorization', `Bearer ${API_TOKEN}`)
      .send(under)
      .expect(400);
    assert.match(judged.body.message as string, /notifyEmails/);
  });

  it('serves /docs and /docs-json unless API_DOCS is false', async () => {
    const server = h.app.getHttpServer() as Server;
    const json = await request(server).get('/docs-json').expect(200);
    assert.equal(typeof json.body.openapi, 'string');
    const page = await request(server).get('/docs').redirects(1).expect(200);
    assert.match(page.headers['content-type'] as string, /text\/html/);

    const publicDeployment = await replica({ API_DOCS: false });
    await request(publicDeployment).get('/docs-json').expect(404);
    await request(publicDeployment).get('/docs').expect(404);
  });
});
