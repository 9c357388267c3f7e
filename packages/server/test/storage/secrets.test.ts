import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@palisade/testkit';
import {
  createSecretBox,
  generateToken,
  hashToken,
  loadSecretKey,
  looksLikeToken,
  parseSecretKey,
  readOrCreateKeyFile,
  tokenMatches,
} from '../../src/secrets/index.js';

test('PALISADE_SECRET_KEY is read as hex or base64 and must be 32 bytes', () => {
  const key = randomBytes(32);
  assert.deepEqual(parseSecretKey(key.toString('hex')), key);
  assert.deepEqual(parseSecretKey(key.toString('base64')), key);
  assert.deepEqual(parseSecretKey(key.toString('base64url')), key);
  assert.throws(() => parseSecretKey(randomBytes(16).toString('base64')), /must be 32 bytes/);
  assert.throws(
    () => parseSecretKey('not a key!'),
    (e: unknown) => (e as { code?: string }).code === 'E_CONFIG',
  );
  const t = tempDir();
  try {
    assert.deepEqual(
      loadSecretKey({ env: { PALISADE_SECRET_KEY: key.toString('hex') }, dataDir: t.path }),
      key,
      'the environment wins',
    );
    assert.throws(() => loadSecretKey({ env: {} }), /set PALISADE_SECRET_KEY/);
  } finally {
    t.cleanup();
  }
});

test('the key file is created once, private, and read back by later starts', async () => {
  const t = tempDir();
  try {
    const path = join(t.path, 'secret.key');
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => Promise.resolve().then(() => readOrCreateKeyFile(path))),
    );
    assert.ok(keys.every((k) => k.equals(keys[0] as Buffer)));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(loadSecretKey({ env: {}, dataDir: t.path }), keys[0]);
    writeFileSync(path, 'short\n');
    assert.throws(
      () => loadSecretKey({ env: {}, dataDir: t.path }),
      (e: unknown) => (e as { subject?: string }).subject === path,
    );
    assert.ok(readFileSync(path, 'utf8').startsWith('short'), 'a bad key file is reported, never replaced');
  } finally {
    t.cleanup();
  }
});

test('sealed secrets round trip; tampering, another context or another key fail clearly', () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal('hunter2', 'registry:a');
  assert.ok(sealed.startsWith('v1.') && !sealed.includes('hunter2'));
  assert.notEqual(box.seal('hunter2', 'registry:a'), sealed, 'a fresh IV each time');
  assert.equal(box.open(sealed, 'registry:a'), 'hunter2');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  raw[14] = (raw[14] ?? 0) ^ 1;
  const tampered = `v1.${raw.toString('base64url')}`;
  const isCorrupt = (e: unknown): boolean =>
    (e as { code?: string }).code === 'E_CORRUPT' && /failed authentication/.test(String(e));
  assert.throws(() => box.open(tampered, 'registry:a'), isCorrupt);
  assert.throws(() => box.open(sealed, 'registry:b'), isCorrupt);
  assert.throws(() => createSecretBox(randomBytes(32)).open(sealed, 'registry:a'), isCorrupt);
  assert.throws(() => box.open('v2.xyz', 'registry:a'), /unknown format/);
});

test('tokens carry the pal_ prefix and only their sha256 is compared', () => {
  const t = generateToken();
  assert.match(t, /^pal_[A-Za-z0-9_-]{43}$/);
  assert.ok(looksLikeToken(t));
  assert.match(generateToken('wh'), /^pal_wh_/);
  assert.equal(hashToken(t).length, 64);
  assert.ok(tokenMatches(t, hashToken(t)));
  assert.ok(!tokenMatches(generateToken(), hashToken(t)));
  assert.ok(!tokenMatches(t, 'abc'));
});
