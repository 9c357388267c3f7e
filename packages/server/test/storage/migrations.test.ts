import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPalisadeError } from '@palisade/core';
import { MIGRATIONS, type Migration } from '../../src/storage/index.js';
import { forEachBackend } from './harness.js';

const LATEST = Math.max(...MIGRATIONS.map((m) => m.version));

forEachBackend((h) => {
  test('migrations run at open and running them again does nothing', async () => {
    const db = await h.fresh();
    const a = await db.open();
    assert.deepEqual(await a.migrationStatus(), { version: LATEST, applied: MIGRATIONS.map((m) => m.version) });
    await a.tokens.create({ name: 'keep', role: 'reader' });
    await a.close();
    const b = await db.open();
    assert.equal((await b.migrationStatus()).version, LATEST);
    assert.equal((await b.tokens.list()).length, 1, 'data survives a second start');
    const rows = await db.raw('SELECT COUNT(*) AS n FROM schema_migrations');
    assert.equal(Number(rows[0]?.['n']), MIGRATIONS.length);
  });

  test('a failing migration rolls back completely and the next start applies the good ones', async () => {
    const db = await h.fresh();
    const bad: Migration[] = [
      ...MIGRATIONS,
      {
        version: LATEST + 1,
        name: 'half good',
        sql: 'CREATE TABLE half_done (a INTEGER); INSERT INTO half_done VALUES (1); CREATE TABLE broken (',
      },
    ];
    await assert.rejects(db.open({ migrations: bad }), (err: unknown) => {
      assert.ok(isPalisadeError(err));
      assert.equal(err.code, 'E_DB');
      assert.match(err.message, new RegExp(`migration ${LATEST + 1} \\(half good\\) failed and was rolled back`));
      return true;
    });
    assert.equal(await db.tableExists('half_done'), false, 'the statements before the failure were rolled back');
    assert.equal(await db.tableExists('jobs'), true, 'earlier migrations, each in its own transaction, stay');
    const s = await db.open();
    assert.equal((await s.migrationStatus()).version, LATEST);
  });

  test('a database newer than the code is refused', async () => {
    const db = await h.fresh();
    await (
      await db.open({
        migrations: [...MIGRATIONS, { version: LATEST + 1, name: 'future', sql: 'CREATE TABLE future_t (a INTEGER)' }],
      })
    ).close();
    await assert.rejects(db.open(), /newer than this Palisade knows/);
  });

  test('two replicas starting at once apply each migration once', async () => {
    const db = await h.fresh();
    const [a, b, c] = await Promise.all([db.open(), db.open(), db.open()]);
    assert.ok(a && b && c);
    const rows = await db.raw('SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
    assert.deepEqual(
      rows.map((r) => [Number(r['version']), Number(r['n'])]),
      MIGRATIONS.map((m) => [m.version, 1]),
    );
  });
});
