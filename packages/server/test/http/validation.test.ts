/** Request validation: unknown fields named, 413 over the body limit, JSON errors without stacks. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '@palisade/testkit';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { bearer, testApp, type TestApp } from './helpers.js';

let dir: { path: string; cleanup: () => void };
let storage: Storage;
let t: TestApp;

before(async () => {
  dir = tempDir();
  storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 1) });
  t = await testApp(storage, { bodyLimit: 4096 });
});
after(async () => {
  await t.app.close();
  await storage.close();
  dir.cleanup();
});

type ErrorBody = { error: { code: string; message: string } };

async function post(url: string, payload: unknown): Promise<{ status: number; body: ErrorBody; raw: string }> {
  const r = await t.app.inject({ method: 'POST', url, headers: bearer(t.tokens.admin), payload: payload as object });
  return { status: r.statusCode, body: r.json<ErrorBody>(), raw: r.body };
}

test('an unknown body field is rejected with the field named, not dropped', async () => {
  const r = await post('/api/v1/scans', { reference: 'example.com/a:1', priority: 'high' });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { error: { code: 'E_INPUT', message: 'body.priority: unknown field' } });
  const nested = await post('/api/v1/registries', {
    name: 'x',
    url: 'https://x.example',
    credentials: { username: 'u', password: 'p', token: 't' },
  });
  assert.equal(nested.body.error.message, 'body.credentials.token: unknown field');
  assert.equal((await storage.registries.list()).length, 0, 'nothing was created');
});

test('unknown query parameters, missing and mistyped fields name the field', async () => {
  const q = await t.app.inject({ method: 'GET', url: '/api/v1/images?sever=high', headers: bearer(t.tokens.reader) });
  assert.equal(q.statusCode, 400);
  assert.equal(q.json<ErrorBody>().error.message, 'querystring.sever: unknown field');
  const lim = await t.app.inject({ method: 'GET', url: '/api/v1/images?limit=9999', headers: bearer(t.tokens.reader) });
  assert.match(lim.json<ErrorBody>().error.message, /^querystring\.limit: must be <= 500/);
  const sev = await t.app.inject({
    method: 'GET',
    url: '/api/v1/vulnerabilities?severity=high,bad',
    headers: bearer(t.tokens.reader),
  });
  assert.match(sev.json<ErrorBody>().error.message, /^querystring\.severity: /);
  assert.equal((await post('/api/v1/tokens', { role: 'reader' })).body.error.message, 'body.name: required');
  assert.equal(
    (await post('/api/v1/tokens', { name: 'x', role: 'root' })).body.error.message,
    'body.role: must be one of "admin", "operator", "reader"',
  );
  const badDigest = await t.app.inject({
    method: 'GET',
    url: '/api/v1/images/sha256:zz',
    headers: bearer(t.tokens.reader),
  });
  assert.equal(badDigest.statusCode, 400);
  assert.match(badDigest.json<ErrorBody>().error.message, /^params\.digest: /);
});

test('a malformed image reference is a 400 naming the reference', async () => {
  const r = await post('/api/v1/scans', { reference: 'UPPER CASE/ref' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'E_INPUT');
  assert.match(r.body.error.message, /UPPER CASE\/ref/);
});

test('a body over the limit gets 413 with a JSON error', async () => {
  const r = await post('/api/v1/scans', { reference: 'x'.repeat(10_000) });
  assert.equal(r.status, 413);
  assert.deepEqual(r.body, { error: { code: 'E_TOO_LARGE', message: 'request body larger than 4096 bytes' } });
});

test('invalid JSON, wrong content type and unknown routes give JSON errors without stacks', async () => {
  const bad = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    headers: { ...bearer(t.tokens.admin), 'content-type': 'application/json' },
    payload: '{"reference":',
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<ErrorBody>().error.code, 'E_INPUT');
  const text = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    headers: { ...bearer(t.tokens.admin), 'content-type': 'text/plain' },
    payload: 'hi',
  });
  assert.equal(text.statusCode, 415);
  const nf = await t.app.inject({
    method: 'GET',
    url: '/api/v1/scans/does-not-exist',
    headers: bearer(t.tokens.reader),
  });
  assert.equal(nf.statusCode, 404);
  assert.deepEqual(nf.json(), { error: { code: 'E_NOT_FOUND', message: 'does-not-exist: no such scan' } });
  for (const r of [bad, text, nf]) assert.ok(!/\bat .*\.js:\d+/.test(r.body) && !r.body.includes('stack'), r.body);
});

test('healthz, readyz and metrics need no token; readyz reports a missing DB as 503', async () => {
  assert.deepEqual((await t.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  const m = await t.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(m.statusCode, 200);
  assert.match(String(m.headers['content-type']), /^text\/plain/);
  assert.match(m.body, /^palisade_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m);
  assert.match(m.body, /^palisade_jobs\{state="queued"\} \d+$/m);
  const noDb = await testApp(storage, {
    vulnDb: { loaded: false, path: '/none', builtAt: null, error: 'no vulnerability database' },
  });
  const r = await noDb.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(r.statusCode, 503);
  assert.deepEqual(r.json<{ checks: unknown }>().checks, {
    storage: { ok: true, error: null },
    vulnDb: { ok: false, builtAt: null, error: 'no vulnerability database' },
  });
  await noDb.app.close();
});
