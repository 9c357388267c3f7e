/**
 * Authentication and roles, on both storage backends: 401 without or with a wrong token, 403
 * for a role too low, tokens stored only as hashes, revocation, and no token in the logs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { forEachBackend } from '../storage/harness.js';
import { bearer, testApp } from './helpers.js';

forEachBackend((h) => {
  test('/api/v1 needs a bearer token: 401 with a JSON error when missing, malformed or unknown', async () => {
    const db = await h.fresh();
    const { app } = await testApp(await db.open());
    for (const headers of [{}, { authorization: 'Basic YTpi' }, bearer('pal_' + 'x'.repeat(43)), bearer('nonsense')]) {
      const r = await app.inject({ method: 'GET', url: '/api/v1/images', headers });
      assert.equal(r.statusCode, 401, JSON.stringify(headers));
      assert.match(String(r.headers['content-type']), /application\/json/);
      const body = r.json<{ error: { code: string; message: string } }>();
      assert.equal(body.error.code, 'E_AUTH');
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
    }
    // Also for a route that does not exist: unauthenticated callers learn nothing about routes.
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/nope' })).statusCode, 401);
    await app.close();
  });

  test('encoded or doubled slashes in the path never skip authentication or roles', async () => {
    const db = await h.fresh();
    const { app, tokens } = await testApp(await db.open());
    // The router decodes %XX and these all reach real API routes; none may be treated as public.
    for (const url of [
      '/%61pi/v1/tokens',
      '/%2561pi/v1/tokens',
      '/api/v1/%74okens',
      '/%61pi/v1/clusters',
      '//api/v1/tokens',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      assert.ok(r.statusCode === 401 || r.statusCode === 404, `${url} answered ${r.statusCode} without a token`);
      assert.doesNotMatch(r.body, /pal_|"items"/, url);
    }
    const encodedAdmin = await app.inject({ method: 'GET', url: '/%61pi/v1/tokens', headers: bearer(tokens.reader) });
    assert.equal(encodedAdmin.statusCode, 403, 'a reader token stays a reader behind an encoded path');
    const post = await app.inject({
      method: 'POST',
      url: '/%61pi/v1/tokens',
      payload: { name: 'x', role: 'admin' },
    });
    assert.equal(post.statusCode, 401);
    // Token-authenticated routes (cluster ingest) keep their own check behind an encoded path.
    const ingest = await app.inject({ method: 'POST', url: '/%61pi/v1/ingest/runtime', payload: {} });
    assert.equal(ingest.statusCode, 401);
    // The public operational endpoints stay public.
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    await app.close();
  });

  test('roles: reader reads, operator also scans, admin also manages registries and tokens', async () => {
    const db = await h.fresh();
    const { app, tokens } = await testApp(await db.open());
    const call = async (method: 'GET' | 'POST', url: string, token: string, payload?: object): Promise<number> =>
      (await app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) })).statusCode;
    for (const t of [tokens.reader, tokens.operator, tokens.admin]) {
      assert.equal(await call('GET', '/api/v1/images', t), 200);
      assert.equal(await call('GET', '/api/v1/vulnerabilities', t), 200);
      assert.equal(await call('GET', '/api/v1/scans', t), 200);
    }
    const scan = { reference: 'registry.example.com/app:1' };
    assert.equal(await call('POST', '/api/v1/scans', tokens.reader, scan), 403);
    assert.equal(await call('POST', '/api/v1/scans', tokens.operator, scan), 202);
    assert.equal(
      await call('POST', '/api/v1/scans', tokens.admin, scan),
      200,
      'the pending scan of the same reference is returned',
    );
    const reg = { name: 'r1', url: 'https://registry.example.com' };
    for (const t of [tokens.reader, tokens.operator]) {
      assert.equal(await call('POST', '/api/v1/registries', t, reg), 403);
      assert.equal(await call('GET', '/api/v1/registries', t), 403);
      assert.equal(await call('GET', '/api/v1/tokens', t), 403);
      assert.equal(await call('POST', '/api/v1/tokens', t, { name: 'x', role: 'reader' }), 403);
    }
    const denied = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(tokens.operator),
      payload: { name: 'x', role: 'admin' },
    });
    assert.equal(
      denied.json<{ error: { code: string; message: string } }>().error.message,
      'this needs the admin role; the token has operator',
    );
    assert.equal(await call('POST', '/api/v1/registries', tokens.admin, reg), 201);
    await app.close();
  });

  test('tokens: plaintext shown once, stored as sha256 only, listed without secrets, revocable', async () => {
    const db = await h.fresh();
    const { app, tokens, logs } = await testApp(await db.open());
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(tokens.admin),
      payload: { name: 'ci', role: 'reader' },
    });
    assert.equal(r.statusCode, 201);
    const { token, record } = r.json<{ token: string; record: { id: string; role: string; displayPrefix: string } }>();
    assert.match(token, /^pal_/);
    assert.equal(record.role, 'reader');
    const rows = await db.raw('SELECT * FROM api_tokens');
    const dump = JSON.stringify(rows);
    for (const t of [token, tokens.admin, tokens.operator, tokens.reader]) {
      assert.ok(!dump.includes(t), 'no plaintext token in the database');
      assert.ok(dump.includes(createHash('sha256').update(t).digest('hex')), 'its sha256 is stored');
    }
    const list = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer(tokens.admin) });
    assert.ok(!list.body.includes(token) && !list.body.includes(tokens.admin));
    assert.ok(!list.body.includes('hash'), 'no hash in the list either');
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/images', headers: bearer(token) })).statusCode, 200);
    assert.equal(
      (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${record.id}`, headers: bearer(tokens.admin) }))
        .statusCode,
      204,
    );
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/images', headers: bearer(token) })).statusCode, 401);
    assert.equal(
      (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${record.id}`, headers: bearer(tokens.admin) }))
        .statusCode,
      404,
    );
    await app.close();
    const logged = logs();
    assert.ok(logged.length > 0, 'requests were logged');
    for (const t of [token, tokens.admin, tokens.operator, tokens.reader])
      assert.ok(!logged.includes(t), 'no token in the logs');
  });

  test('registry credentials are write-only; the webhook token is shown once', async () => {
    const db = await h.fresh();
    const { app, tokens, logs } = await testApp(await db.open());
    const payload = {
      name: 'corp',
      url: 'https://registry.corp.example',
      insecure: false,
      credentials: { username: 'bot', password: 's3cret-pass-XYZ' },
    };
    const r = await app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(tokens.admin), payload });
    assert.equal(r.statusCode, 201, r.body);
    const body = r.json<{
      registry: { id: string; hasCredentials: boolean; webhookUrl: string };
      webhook: { url: string; token: string };
    }>();
    assert.equal(body.registry.hasCredentials, true);
    assert.equal(body.webhook.url, `/api/v1/registries/${body.registry.id}/events`);
    assert.match(body.webhook.token, /^pal_/);
    assert.ok(!r.body.includes('s3cret-pass-XYZ'));
    for (const url of ['/api/v1/registries', `/api/v1/registries/${body.registry.id}`]) {
      const g = await app.inject({ method: 'GET', url, headers: bearer(tokens.admin) });
      assert.equal(g.statusCode, 200);
      assert.ok(
        !g.body.includes('s3cret-pass-XYZ') && !g.body.includes(body.webhook.token) && !g.body.includes('password'),
      );
    }
    assert.ok(
      !JSON.stringify(await db.raw('SELECT * FROM registries')).includes('s3cret-pass-XYZ'),
      'encrypted at rest',
    );
    const dup = await app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(tokens.admin), payload });
    assert.equal(dup.statusCode, 400);
    assert.match(dup.body, /exists/);
    assert.equal(
      (
        await app.inject({
          method: 'DELETE',
          url: `/api/v1/registries/${body.registry.id}`,
          headers: bearer(tokens.admin),
        })
      ).statusCode,
      204,
    );
    await app.close();
    assert.ok(!logs().includes('s3cret-pass-XYZ'));
  });
});
