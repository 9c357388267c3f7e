/**
 * Publishing after a scan: a failed publish is kept on the (succeeded) scan and shown by the API
 * as publishError; two scans of one subject never publish at the same time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pushLayout, startRegistry, tempDir, writeOciLayout } from '@palisade/testkit';
import { openStorage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';
import { emptyReport, fakeDb, until } from './fakes.js';
import { createScanWorker, type ScanFn } from '../../src/worker/worker.js';
import type { publishReport } from '../../src/registry/index.js';
import { bearer, testApp } from '../http/helpers.js';

const KEY = Buffer.alloc(32, 5);

function fakeScan(digest: string): ScanFn {
  return (ref) => Promise.resolve(emptyReport(ref, digest));
}

test('a publish that fails leaves the scan succeeded, with publishError in GET /api/v1/scans/{id}', async () => {
  const dir = tempDir();
  const storage = await openStorage({ dataDir: dir.path, secretKey: KEY });
  const digest = `sha256:${'cd'.repeat(32)}`;
  // Nothing listens on port 1: the scan is faked, the publish really tries and fails.
  const registry = await storage.registries.create({
    name: 'nowhere',
    url: 'http://127.0.0.1:1',
    insecure: true,
    publishResults: true,
  });
  const worker = createScanWorker({
    storage,
    vulnDb: fakeDb,
    cacheDir: join(dir.path, 'cache'),
    concurrency: 1,
    registryConcurrency: 1,
    pollMs: 20,
    registryTimeoutMs: 2_000,
    scan: fakeScan(digest),
  });
  const { app, tokens } = await testApp(storage);
  try {
    const queue = createScanQueue(storage, { allowLocalSources: false, onEnqueued: () => worker.wake() });
    const { scan, created } = await queue.enqueueDigest({ registry, repository: 'demo/app', digest });
    assert.ok(created);
    worker.start();
    const shown = await until('the scan to finish with its publish outcome', async () => {
      const r = await app.inject({ method: 'GET', url: `/api/v1/scans/${scan.id}`, headers: bearer(tokens.reader) });
      const body = r.json<{ status: string; publishError: string | null }>();
      return body.status === 'succeeded' && body.publishError !== null ? body : null;
    });
    assert.equal(shown.status, 'succeeded');
    assert.match(shown.publishError ?? '', /127\.0\.0\.1:1/);
    // Kept in its own column: the stored report stays as scanned, and lists show it too.
    assert.deepEqual((await storage.scans.report(scan.id))?.warnings, []);
    assert.equal((await storage.scans.list({})).items[0]?.publishError, shown.publishError);
    // The result is landed all the same.
    assert.ok(await storage.images.find('127.0.0.1:1', 'demo/app', digest));
  } finally {
    await worker.stop({ graceMs: 2_000 });
    await app.close();
    await storage.close();
    dir.cleanup();
  }
});

test('two scans of one subject never publish at the same time', async () => {
  const dir = tempDir();
  const registry = await startRegistry();
  const storage = await openStorage({ dataDir: dir.path, secretKey: KEY });
  try {
    const layout = writeOciLayout(join(dir.path, 'layout'), 'v1', [
      { layers: [{ files: [{ path: 'etc/os-release', content: 'ID=demo\n' }] }] },
    ]);
    await pushLayout(layout.dir, 'v1', registry, 'demo/app:v1');
    const reg = await storage.registries.create({
      name: 'local',
      url: registry.url,
      insecure: true,
      publishResults: true,
    });
    let running = 0;
    let overlapped = false;
    let calls = 0;
    const slowPublish: typeof publishReport = async (o) => {
      running++;
      calls++;
      if (running > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, 200));
      running--;
      return { digest: o.subject.digest, method: 'tag-schema', replaced: [], notDeleted: [] };
    };
    const worker = createScanWorker({
      storage,
      vulnDb: fakeDb,
      cacheDir: join(dir.path, 'cache'),
      concurrency: 2,
      registryConcurrency: 2,
      pollMs: 20,
      scan: fakeScan(layout.digest),
      publish: slowPublish,
    });
    const queue = createScanQueue(storage, { allowLocalSources: false, onEnqueued: () => worker.wake() });
    // Different dedupe keys (by digest, by tag; the same digest by reference would share the
    // push's key): both jobs run, concurrently, and resolve to the same subject.
    await queue.enqueueDigest({ registry: reg, repository: 'demo/app', digest: layout.digest });
    await queue.enqueue(`${registry.host}/demo/app:v1`);
    worker.start();
    try {
      await until('both publishes', () => Promise.resolve(calls === 2 && running === 0));
    } finally {
      await worker.stop({ graceMs: 2_000 });
    }
    assert.equal(overlapped, false);
  } finally {
    await storage.close();
    await registry.stop();
    dir.cleanup();
  }
});
