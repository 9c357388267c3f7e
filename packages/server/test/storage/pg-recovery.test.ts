/** PostgreSQL only: the storage survives the server dropping its connections. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStorage } from '../../src/storage/index.js';
import { PG_URL, TEST_KEY } from './harness.js';

const schema = `palisade_t_${randomBytes(6).toString('hex')}`;
const appName = `palisade_test_${randomBytes(4).toString('hex')}`;
const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });

after(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

async function terminateOurConnections(): Promise<number> {
  const r = await admin.query<{ n: string }>(
    'SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [appName],
  );
  return Number(r.rows[0]?.n ?? 0);
}

test('postgres: the next call succeeds after pg_terminate_backend of every pooled connection', async () => {
  await admin.query(`CREATE SCHEMA ${schema}`);
  const s = await openStorage({
    databaseUrl: PG_URL,
    schema,
    secretKey: TEST_KEY,
    applicationName: appName,
    poolSize: 3,
  });
  try {
    // Fill the pool with idle connections, then kill them all.
    await Promise.all([s.tokens.list(), s.jobs.counts(), s.images.list()]);
    assert.ok((await terminateOurConnections()) >= 1);
    assert.deepEqual(await s.tokens.list(), [], 'a plain query');

    await Promise.all([s.tokens.list(), s.jobs.counts(), s.images.list()]);
    await terminateOurConnections();
    const { job } = await s.jobs.enqueue({ kind: 'scan', payload: 1 });
    const claimed = await s.jobs.claim('w', { leaseMs: 10_000 });
    assert.equal(claimed?.id, job.id, 'a transaction (claim) after the drop');

    await terminateOurConnections();
    const n = await s.withTransaction(async (tx) => {
      await tx.tokens.create({ name: 't', role: 'reader' });
      return (await tx.tokens.list()).length;
    });
    assert.equal(n, 1);
    assert.equal((await s.tokens.list()).length, 1);
  } finally {
    await s.close();
  }
});
