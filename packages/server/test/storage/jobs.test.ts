import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from '../../src/storage/index.js';
import { forEachBackend, TestClock } from './harness.js';

const LEASE = 30_000;

forEachBackend((h) => {
  test('enqueue, claim, complete; kinds filter; dedupe returns the pending job', async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const s = await db.open({ clock });
    const first = await s.jobs.enqueue({
      kind: 'scan',
      payload: { ref: 'reg/app@sha256:1' },
      dedupeKey: 'scan:sha256:1',
    });
    assert.equal(first.created, true);
    const again = await s.jobs.enqueue({ kind: 'scan', payload: { ref: 'other' }, dedupeKey: 'scan:sha256:1' });
    assert.deepEqual([again.created, again.job.id], [false, first.job.id]);
    assert.equal(await s.jobs.claim('w1', { kinds: ['sync'], leaseMs: LEASE }), null);
    const job = await s.jobs.claim('w1', { kinds: ['scan'], leaseMs: LEASE });
    assert.equal(job?.id, first.job.id);
    assert.deepEqual(job?.payload, { ref: 'reg/app@sha256:1' });
    assert.equal(job?.status, 'running');
    assert.equal(job?.attempts, 1);
    assert.equal(
      (await s.jobs.enqueue({ kind: 'scan', payload: {}, dedupeKey: 'scan:sha256:1' })).created,
      false,
      'still deduped while running',
    );
    assert.equal(await s.jobs.complete(first.job.id, 'w2'), false, 'only the holder completes');
    assert.equal(await s.jobs.complete(first.job.id, 'w1'), true);
    assert.equal((await s.jobs.get(first.job.id))?.status, 'succeeded');
    assert.equal(
      (await s.jobs.enqueue({ kind: 'scan', payload: {}, dedupeKey: 'scan:sha256:1' })).created,
      true,
      'a finished job no longer dedupes',
    );
    assert.deepEqual(await s.jobs.counts(), { queued: 1, running: 0, succeeded: 1, failed: 0 });
    clock.advance(1000);
    assert.equal(await s.jobs.purgeFinished(clock.now().toISOString()), 1);
  });

  test('concurrent enqueues with one dedupe key create one job', async () => {
    const db = await h.fresh();
    const [a, b] = [await db.open(), await db.open()];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).jobs.enqueue({ kind: 'scan', payload: { i }, dedupeKey: 'push:sha256:abc' }),
      ),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.job.id)).size, 1);
    assert.equal((await a.jobs.list()).total, 1);
  });

  test('failures back off exponentially, then fail for good with the reason kept', async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const s = await db.open({ clock, backoff: { baseMs: 1000, maxMs: 3000 } });
    const { job } = await s.jobs.enqueue({ kind: 'scan', payload: null, maxAttempts: 4 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const claimed = await s.jobs.claim('w', { leaseMs: LEASE });
      assert.equal(claimed?.attempts, attempt);
      const failed = await s.jobs.fail(job.id, 'w', `registry 503 (attempt ${attempt})`);
      assert.equal(failed?.status, 'queued');
      const delay = Date.parse(failed?.runAt ?? '') - clock.now().getTime();
      delays.push(delay);
      clock.advance(delay - 1);
      assert.equal(await s.jobs.claim('w', { leaseMs: LEASE }), null, 'not before its backoff');
      clock.advance(1);
    }
    assert.deepEqual(delays, [1000, 2000, 3000]);
    await s.jobs.claim('w', { leaseMs: LEASE });
    const dead = await s.jobs.fail(job.id, 'w', 'registry 503 (attempt 4)');
    assert.equal(dead?.status, 'failed');
    assert.equal(dead?.lastError, 'registry 503 (attempt 4)');
    assert.ok(dead?.finishedAt);
    assert.equal(await s.jobs.claim('w', { leaseMs: LEASE }), null);

    const other = await s.jobs.enqueue({ kind: 'scan', payload: null });
    await s.jobs.claim('w', { leaseMs: LEASE });
    assert.equal((await s.jobs.fail(other.job.id, 'w', 'manifest unknown', { retryable: false }))?.status, 'failed');
    assert.equal(await s.jobs.fail(other.job.id, 'w', 'again'), null, 'a job not held cannot be failed');
  });

  test("a killed worker's job is recovered after its lease and claimed again at restart", async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const before = await db.open({ clock });
    const { job } = await before.jobs.enqueue({ kind: 'scan', payload: { n: 1 } });
    const once = await before.jobs.enqueue({
      kind: 'scan',
      payload: { n: 2 },
      maxAttempts: 1,
      runAt: new Date(clock.now().getTime() + 1).toISOString(),
    });
    assert.equal((await before.jobs.claim('w-old', { leaseMs: 5000 }))?.id, job.id);
    clock.advance(1);
    assert.equal((await before.jobs.claim('w-old', { leaseMs: 5000 }))?.id, once.job.id);
    clock.advance(3000);
    assert.ok(await before.jobs.heartbeat(job.id, 'w-old', 5000), 'heartbeat extends the lease');
    await before.close(); // the server is killed mid-scan

    const after = await db.open({ clock });
    clock.advance(2500);
    assert.equal(await after.jobs.recoverExpired(), 1, 'only the job whose lease ran out (the other was renewed)');
    assert.equal(await after.jobs.claim('w-new', { leaseMs: 5000 }), null);
    clock.advance(3000);
    assert.equal(await after.jobs.recoverExpired(), 1);
    const again = await after.jobs.claim('w-new', { leaseMs: 5000 });
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempts, 2);
    assert.match(again?.lastError ?? '', /lease expired: worker w-old/);
    const spent = await after.jobs.get(once.job.id);
    assert.equal(spent?.status, 'failed', 'a job out of attempts fails instead of looping');
    assert.equal(await after.jobs.heartbeat(job.id, 'w-old', 5000), false, 'the old worker learns it lost the job');
    assert.equal(await after.jobs.complete(job.id, 'w-old'), false);
    assert.equal(await after.jobs.complete(job.id, 'w-new'), true);
  });

  test('per-key concurrency limits', async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const s = await db.open({ clock });
    const at = (ms: number): string => new Date(clock.now().getTime() - 10_000 + ms).toISOString();
    const a1 = await s.jobs.enqueue({ kind: 'scan', payload: 'a1', concurrencyKey: 'registry:a', runAt: at(1) });
    await s.jobs.enqueue({ kind: 'scan', payload: 'a2', concurrencyKey: 'registry:a', runAt: at(2) });
    await s.jobs.enqueue({ kind: 'scan', payload: 'a3', concurrencyKey: 'registry:a', runAt: at(3) });
    await s.jobs.enqueue({ kind: 'scan', payload: 'b1', concurrencyKey: 'registry:b', runAt: at(4) });
    await s.jobs.enqueue({ kind: 'scan', payload: 'free', runAt: at(5) });
    const limits = { 'registry:a': 1, 'registry:b': 0 };
    const got: unknown[] = [];
    for (
      let j = await s.jobs.claim('w', { leaseMs: LEASE, concurrencyLimits: limits });
      j;
      j = await s.jobs.claim('w', { leaseMs: LEASE, concurrencyLimits: limits })
    ) {
      got.push(j.payload);
    }
    assert.deepEqual(got, ['a1', 'free']);
    await s.jobs.complete(a1.job.id, 'w');
    assert.equal((await s.jobs.claim('w', { leaseMs: LEASE, concurrencyLimits: limits }))?.payload, 'a2');
    assert.equal((await s.jobs.claim('w', { leaseMs: LEASE, concurrencyLimits: { 'registry:a': 2 } }))?.payload, 'a3');
  });

  test('two claimers on separate connections get each of 200 jobs exactly once', async () => {
    const db = await h.fresh();
    const [a, b] = [await db.open({ poolSize: 4 }), await db.open({ poolSize: 4 })];
    await a.withTransaction(async (tx) => {
      for (let i = 0; i < 200; i++) await tx.jobs.enqueue({ kind: 'scan', payload: i });
    });
    const seen: string[] = [];
    const worker = async (s: Storage, name: string): Promise<void> => {
      for (let j = await s.jobs.claim(name, { leaseMs: LEASE }); j; j = await s.jobs.claim(name, { leaseMs: LEASE })) {
        seen.push(j.id);
        assert.ok(await s.jobs.complete(j.id, name));
      }
    };
    await Promise.all([0, 1, 2, 3].flatMap((k) => [worker(a, `a${k}`), worker(b, `b${k}`)]));
    assert.equal(seen.length, 200);
    assert.equal(new Set(seen).size, 200);
    assert.deepEqual(await a.jobs.counts(), { queued: 0, running: 0, succeeded: 200, failed: 0 });
  });

  test('a concurrency limit holds when claimers race on separate connections', async () => {
    const db = await h.fresh();
    const [a, b] = [await db.open(), await db.open()];
    for (let i = 0; i < 20; i++) await a.jobs.enqueue({ kind: 'scan', payload: i, concurrencyKey: 'registry:hub' });
    const limits = { 'registry:hub': 3 };
    const claims = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a : b).jobs.claim(`w${i}`, { leaseMs: LEASE, concurrencyLimits: limits }),
      ),
    );
    assert.equal(claims.filter((c) => c !== null).length, 3);
    assert.equal((await a.jobs.counts()).running, 3);
  });
});
