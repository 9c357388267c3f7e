/**
 * Credentials revoked mid-scan: an auth refusal is retried with backoff (the credentials may be
 * being rotated) and the scan fails with the reason only after the job's last attempt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PALISADE_VERSION, PalisadeError, type ScanReport } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';
import type { VulnDbHolder } from '../../src/worker/vulndb.js';
import { createScanWorker, type ScanFn } from '../../src/worker/worker.js';

const KEY = Buffer.alloc(32, 6);

const fakeDb: VulnDbHolder = {
  status: () => ({ loaded: true, path: 'x', builtAt: null, error: null }),
  acquire: () => ({
    db: {
      path: 'x',
      status: () => ({ schemaVersion: 1, builtAt: '', feeds: [] }),
      match: () => [],
      close: () => undefined,
    },
    release: () => undefined,
  }),
  close: () => undefined,
};

function report(ref: string, digest: string): ScanReport {
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: PALISADE_VERSION },
    createdAt: new Date().toISOString(),
    artifact: { name: ref, kind: 'registry', digest, layers: [] },
    packages: [],
    vulnerabilities: [],
    warnings: [],
  };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 800; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

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
    return Promise.resolve(report(ref, `sha256:${'ab'.repeat(32)}`));
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
