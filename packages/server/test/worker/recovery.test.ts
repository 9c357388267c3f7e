/**
 * A server killed in the middle of a scan: its job stays `running` with a lease nobody renews.
 * The next start recovers it once the lease has run out and scans it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '@palisade/testkit';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';
import { emptyReport, fakeDb, until } from './fakes.js';
import { createScanWorker, type ScanFn } from '../../src/worker/worker.js';
import { TestClock } from '../storage/harness.js';

const KEY = Buffer.alloc(32, 3);
const DIGEST = `sha256:${'ab'.repeat(32)}`;

test('a job left running by a killed worker is recovered and completed after restart', async () => {
  const dir = tempDir();
  const clock = new TestClock();
  const leaseMs = 60_000;
  let s1: Storage | undefined;
  let s2: Storage | undefined;
  try {
    s1 = await openStorage({ dataDir: dir.path, secretKey: KEY, clock });
    const first = s1;
    let started = 0;
    const hang: ScanFn = (_ref, opts) => {
      started++;
      // Blocks until aborted: the "killed" server never finishes it.
      return new Promise((_res, rej) => opts.signal?.addEventListener('abort', () => rej(new Error('killed'))));
    };
    const w1 = createScanWorker({
      storage: first,
      vulnDb: fakeDb,
      cacheDir: join(dir.path, 'cache'),
      concurrency: 1,
      registryConcurrency: 1,
      clock,
      leaseMs,
      pollMs: 20,
      scan: hang,
      workerId: 'w1',
    });
    const { scan } = await createScanQueue(first, { allowLocalSources: false, onEnqueued: () => w1.wake() }).enqueue(
      'registry.example.com/app:1',
    );
    w1.start();
    const job = await until('the job to run', async () => {
      const j = (await first.jobs.list({ status: 'running' })).items[0];
      return j && started > 0 ? j : null;
    });
    assert.equal(job.lockedBy, 'w1');
    w1.halt(); // killed: no release, no completion
    await first.close();
    s1 = undefined;

    // Restart before the lease ran out: the job is still held by the dead worker.
    s2 = await openStorage({ dataDir: dir.path, secretKey: KEY, clock });
    const second = s2;
    assert.equal((await second.jobs.get(job.id))?.status, 'running');
    assert.equal((await second.scans.get(scan.id))?.status, 'running');
    const ok: ScanFn = async (ref) => emptyReport(ref, DIGEST, clock.now().toISOString());
    clock.advance(leaseMs + 1_000);
    const w2 = createScanWorker({
      storage: second,
      vulnDb: fakeDb,
      cacheDir: join(dir.path, 'cache'),
      concurrency: 1,
      registryConcurrency: 1,
      clock,
      leaseMs,
      pollMs: 20,
      scan: ok,
      workerId: 'w2',
    });
    w2.start();
    const done = await until('the scan to succeed', async () => {
      const s = await second.scans.get(scan.id);
      return s?.status === 'succeeded' ? s : null;
    });
    await w2.stop();
    assert.equal(done.attempts, 2, 'the recovered scan ran a second time');
    assert.equal(done.digest, DIGEST);
    const j = await second.jobs.get(job.id);
    assert.equal(j?.status, 'succeeded');
    assert.equal(j?.attempts, 2);
    assert.match(j?.lastError ?? '', /lease expired: worker w1/);
    const img = (await second.images.list()).items[0];
    assert.equal(img?.repository, 'app');
    assert.deepEqual(img?.tags, ['1']);
  } finally {
    await s1?.close();
    await s2?.close();
    dir.cleanup();
  }
});

test('a failing scan is retried with backoff, then failed with the reason; permanent errors fail at once', async () => {
  const dir = tempDir();
  const clock = new TestClock();
  const storage = await openStorage({
    dataDir: dir.path,
    secretKey: KEY,
    clock,
    backoff: { baseMs: 1_000, maxMs: 1_000 },
  });
  try {
    const { PalisadeError } = await import('@palisade/core');
    const failing: ScanFn = async (ref) => {
      if (ref.includes('missing')) throw new PalisadeError('E_NOT_FOUND', 'manifest unknown', { subject: ref });
      throw new PalisadeError('E_NETWORK', 'connection reset', { subject: ref });
    };
    const w = createScanWorker({
      storage,
      vulnDb: fakeDb,
      cacheDir: join(dir.path, 'cache'),
      concurrency: 2,
      registryConcurrency: 1,
      clock,
      pollMs: 20,
      scan: failing,
    });
    const q = createScanQueue(storage, { allowLocalSources: false, maxAttempts: 2 });
    const flaky = (await q.enqueue('registry.example.com/flaky:1')).scan;
    const missing = (await q.enqueue('registry.example.com/missing:1')).scan;
    w.start();
    const m = await until('the permanent failure', async () => {
      const s = await storage.scans.get(missing.id);
      return s?.status === 'failed' ? s : null;
    });
    assert.equal(m.attempts, 1);
    assert.equal(m.error, 'registry.example.com/missing:1: manifest unknown');
    await until('the first attempt to fail', async () =>
      (await storage.jobs.list({ status: 'queued' })).items.find((j) => j.attempts === 1),
    );
    clock.advance(2_000); // past the backoff
    const f = await until('the final failure', async () => {
      const s = await storage.scans.get(flaky.id);
      return s?.status === 'failed' ? s : null;
    });
    await w.stop();
    assert.equal(f.attempts, 2);
    assert.equal(f.error, 'registry.example.com/flaky:1: connection reset');
  } finally {
    await storage.close();
    dir.cleanup();
  }
});
