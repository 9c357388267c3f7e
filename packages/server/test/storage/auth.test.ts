import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPalisadeError } from '@palisade/core';
import { forEachBackend, TestClock } from './harness.js';

const PASSWORD = 'S3cret-Passw0rd-do-not-store';

forEachBackend((h) => {
  test('api tokens: plaintext once, stored hashed, verify, last used, expiry, revoke', async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const s = await db.open({ clock });
    const { token, record } = await s.tokens.create({ name: 'ci', role: 'operator' });
    assert.match(token, /^pal_/);
    assert.equal(record.role, 'operator');
    assert.equal(record.lastUsedAt, null);
    const stored = await db.raw('SELECT * FROM api_tokens');
    assert.ok(!JSON.stringify(stored).includes(token.slice(4)), 'the token itself is not in the table');

    const ok = await s.tokens.verify(token);
    assert.equal(ok?.id, record.id);
    assert.equal(ok?.lastUsedAt, clock.now().toISOString());
    assert.equal(await s.tokens.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
    assert.equal(await s.tokens.verify('Bearer nonsense'), null);

    const expiring = await s.tokens.create({
      name: 'short',
      role: 'reader',
      expiresAt: new Date(clock.now().getTime() + 1000).toISOString(),
    });
    assert.ok(await s.tokens.verify(expiring.token));
    clock.advance(1000);
    assert.equal(await s.tokens.verify(expiring.token), null, 'expired');

    assert.equal(await s.tokens.revoke(record.id), true);
    assert.equal(await s.tokens.revoke(record.id), false);
    assert.equal(await s.tokens.verify(token), null, 'revoked');
    assert.deepEqual((await s.tokens.list()).map((t) => t.name).sort(), ['ci', 'short']);
    await assert.rejects(s.tokens.create({ name: 'x', role: 'root' as 'admin' }), /role must be one of/);
  });

  test('registry credentials are encrypted at rest, never in records, and round trip', async () => {
    const db = await h.fresh();
    const s = await db.open();
    const r = await s.registries.create({
      name: 'harbor',
      url: 'https://harbor.example',
      readOnly: true,
      credentials: { username: 'robot$ci', password: PASSWORD },
    });
    assert.equal(r.hasCredentials, true);
    assert.equal(r.readOnly, true);
    assert.ok(!JSON.stringify(r).includes(PASSWORD));
    assert.ok(!JSON.stringify(await s.registries.list()).includes(PASSWORD));
    assert.deepEqual(await s.registries.credentials(r.id), { username: 'robot$ci', password: PASSWORD });

    // Nothing in the database holds the password: the whole table as text, and on SQLite the raw files.
    const rows = await db.raw('SELECT * FROM registries');
    assert.ok(!JSON.stringify(rows).includes(PASSWORD));
    assert.ok(!JSON.stringify(rows).includes('robot$ci'), 'the username is sealed too');
    if (db.dir !== undefined) {
      const dir = db.dir;
      for (const f of readdirSync(dir).filter((n) => n.startsWith('palisade.sqlite'))) {
        assert.ok(!readFileSync(join(dir, f)).includes(PASSWORD), `${f} holds the password in plaintext`);
      }
    }

    await assert.rejects(
      s.registries.create({ name: 'harbor', url: 'https://other' }),
      (e: unknown) => isPalisadeError(e) && e.code === 'E_INPUT',
    );
    const updated = await s.registries.update(r.id, { url: 'https://harbor2.example', credentials: null });
    assert.equal(updated?.url, 'https://harbor2.example');
    assert.equal(updated?.hasCredentials, false);
    assert.equal(await s.registries.credentials(r.id), null);
    assert.equal(await s.registries.update('nope', { url: 'https://x.example' }), null);
  });

  test('tampered or transplanted credentials fail with a clear error', async () => {
    const db = await h.fresh();
    const s = await db.open();
    const a = await s.registries.create({
      name: 'a',
      url: 'https://a.example',
      credentials: { username: 'u', password: PASSWORD },
    });
    const b = await s.registries.create({
      name: 'b',
      url: 'https://b.example',
      credentials: { username: 'v', password: 'other' },
    });
    // Copy a's ciphertext onto b: bound to a's id, it must not open as b's.
    await db.raw(
      db.backend === 'postgres'
        ? 'UPDATE registries SET credentials = (SELECT credentials FROM registries WHERE id = $1) WHERE id = $2'
        : 'UPDATE registries SET credentials = (SELECT credentials FROM registries WHERE id = ?) WHERE id = ?',
      [a.id, b.id],
    );
    await assert.rejects(
      s.registries.credentials(b.id),
      (e: unknown) => isPalisadeError(e) && e.code === 'E_CORRUPT' && e.subject === `registry:${b.id}`,
    );
    const sealed = String((await db.raw(`SELECT credentials FROM registries WHERE name = 'a'`))[0]?.['credentials']);
    const flipped = sealed.slice(0, -5) + (sealed.at(-5) === 'A' ? 'B' : 'A') + sealed.slice(-4);
    await db.raw(
      db.backend === 'postgres'
        ? `UPDATE registries SET credentials = $1 WHERE name = 'a'`
        : `UPDATE registries SET credentials = ? WHERE name = 'a'`,
      [flipped],
    );
    await assert.rejects(s.registries.credentials(a.id), /failed authentication/);
  });

  test('webhook tokens are stored hashed and rotate', async () => {
    const db = await h.fresh();
    const s = await db.open();
    const r = await s.registries.create({ name: 'quay', url: 'https://quay.example' });
    assert.equal(await s.registries.verifyWebhookToken(r.id, 'pal_wh_x'), false);
    const t1 = await s.registries.rotateWebhookToken(r.id);
    assert.ok(await s.registries.verifyWebhookToken(r.id, t1));
    assert.ok(!JSON.stringify(await db.raw('SELECT * FROM registries')).includes(t1));
    const t2 = await s.registries.rotateWebhookToken(r.id);
    assert.equal(await s.registries.verifyWebhookToken(r.id, t1), false);
    assert.ok(await s.registries.verifyWebhookToken(r.id, t2));
    assert.equal((await s.registries.get(r.id))?.hasWebhookToken, true);
    assert.equal(await s.registries.delete(r.id), true);
    assert.equal(await s.registries.getByName('quay'), null);
  });
});
