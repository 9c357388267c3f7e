/**
 * Credentials revoked mid-scan: an auth refusal is retried with backoff (the credentials may be
 * being rotated) and the scan fails with the reason only after the job's last attempt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';
import { emptyReport, fakeDb, until } from './fakes.js';
import { createScanWorker, type ScanFn } from '../../src/worker/worker.js';

const KEY = Buffer.alloc(32, 6);

async function runWith(scan: ScanFn, check: (storage: Storage, scanId: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const storage = await openStorage({ dataDir: dir.path, secretKey: KEY, backoff: { baseMs: 10, maxMs: 20 } });
  const worker = createScanWorker({
    storage,
    vulnDb: fakeDb,
    cacheDir: join(dir.path, 'cache'),
    concurrency: 1,
    registryConcurrency: 1,
    pollMs: 10,
    scan,
  });
  try {
    const registry = await storage.registries.create({ name: 'r', url: 'http://127.0.0.1:1', insecure: true });
    const queue = createScanQueue(storage, { allowLocalSources: false, onEnqueued: () => worker.wake() });
    const { scan: created } = await queue.enqueueDigest({
      registry,
      repository: 'demo/app',
      digest: `sha256:${'ab'.repeat(32)}`,
    });
    worker.start();
    await check(storage, created.id);
  } finally {
    await worker.stop({ graceMs: 2_000 });
    await storage.close();
    dir.cleanup();
  }
}

test('an auth refusal is retried, and the scan succeeds once the credentials work again', async () => {
  let calls = 0;
  const scan: ScanFn = (ref) => {
    calls++;
    if (calls === 1)
      return Promise.reject(new PalisadeError('E_AUTH', 'unauthorized: token revoked', { subject: ref }));
    return Promise.resolve(emptyReport(ref, `sha256:${'ab'.repeat(32)}`));
  };
  await runWith(scan, async (storage, id) => {
    const done = await until('the scan to succeed', async () => {
      const s = await storage.scans.get(id);
      return s?.status === 'succeeded' ? s : null;
    });
    assert.equal(done.status, 'succeeded');
    assert.equal(calls, 2, 'one refused attempt, then one that worked');
  });
});

test('an auth refusal on every attempt fails the scan with the reason after the last attempt', async () => {
  let calls = 0;
  const scan: ScanFn = (ref) => {
    calls++;
    return Promise.reject(new PalisadeError('E_AUTH', 'unauthorized: token revoked', { subject: ref }));
  };
  await runWith(scan, async (storage, id) => {
    const failed = await until('the scan to fail', async () => {
      const s = await storage.scans.get(id);
      return s?.status === 'failed' ? s : null;
    });
    assert.match(failed.error ?? '', /token revoked/);
    assert.ok(calls > 1, `retried before failing (attempts: ${calls})`);
  });
});
