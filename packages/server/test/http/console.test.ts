/** The console is served at `/` with security headers, SPA fallback, and no path escapes. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@palisade/testkit';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { testApp, type TestApp } from './helpers.js';

let dir: { path: string; cleanup: () => void };
let storage: Storage;
let t: TestApp;

before(async () => {
  dir = tempDir();
  const root = join(dir.path, 'console');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Palisade</title><div id="root"></div>');
  writeFileSync(join(root, 'assets', 'app-1a2b3c.js'), 'console.log("app")');
  writeFileSync(join(dir.path, 'secret.txt'), 'do not serve');
  storage = await openStorage({ dataDir: join(dir.path, 'data'), secretKey: Buffer.alloc(32, 1) });
  t = await testApp(storage, { consoleDir: root });
});

after(async () => {
  await t.app.close();
  await storage.close();
  dir.cleanup();
});

test('/ and client-side routes get index.html with strict security headers', async () => {
  for (const url of ['/', '/images/sha256:abc', '/vulnerabilities/CVE-2024-1?x=1']) {
    const r = await t.app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, url);
    assert.match(String(r.headers['content-type']), /text\/html/);
    assert.match(r.body, /<title>Palisade<\/title>/);
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['cache-control'], 'no-cache');
  }
});

test('hashed assets are served with their type and long caching; missing assets are 404', async () => {
  const js = await t.app.inject({ method: 'GET', url: '/assets/app-1a2b3c.js' });
  assert.equal(js.statusCode, 200);
  assert.match(String(js.headers['content-type']), /text\/javascript/);
  assert.match(String(js.headers['cache-control']), /immutable/);
  const missing = await t.app.inject({ method: 'GET', url: '/assets/nope.js' });
  assert.equal(missing.statusCode, 404);
});

test('paths cannot escape the console directory, and API paths are never the console', async () => {
  for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%00.js']) {
    const r = await t.app.inject({ method: 'GET', url });
    assert.ok(!r.body.includes('do not serve'), `${url} leaked a file outside the console`);
  }
  const api = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
  assert.equal(api.statusCode, 401);
  const post = await t.app.inject({ method: 'POST', url: '/images' });
  assert.equal(post.statusCode, 404);
});
