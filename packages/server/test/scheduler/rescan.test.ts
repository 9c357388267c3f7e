/**
 * Rescan planning on both backends: exactly the images used within the window and not scanned
 * within `every` get a scan job, and planning again adds nothing while those jobs are pending.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRescans } from '../../src/scheduler/rescan.js';
import { DAY_MS } from '../../src/scheduler/types.js';
import type { Storage } from '../../src/storage/index.js';
import { parseScanPayload, SCAN_JOB_KIND } from '../../src/worker/queue.js';
import { forEachBackend, sha, TestClock } from '../storage/harness.js';

const HOUR = 3_600_000;

function ago(clock: TestClock, ms: number): string {
  return new Date(clock.now().getTime() - ms).toISOString();
}

async function scanned(storage: Storage, digest: string, at: string): Promise<void> {
  await storage.findings.replaceForDigest(digest, { scanId: null, scannedAt: at, packages: [], findings: [] });
}

forEachBackend((h) => {
  test('plan queues exactly the due images, once', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    const reg = 'registry.example.com';
    // due: pushed 2 days ago, never scanned
    await storage.images.upsert({
      registry: reg,
      repository: 'team/a',
      digest: sha(1),
      tags: ['1'],
      pushedAt: ago(clock, 2 * DAY_MS),
    });
    // same digest in another repository: one scan covers both
    await storage.images.upsert({
      registry: reg,
      repository: 'team/a-mirror',
      digest: sha(1),
      pushedAt: ago(clock, 2 * DAY_MS),
    });
    // due: pulled 5 days ago (pushed long before), last scanned 2 days ago
    await storage.images.upsert({
      registry: reg,
      repository: 'team/b',
      digest: sha(2),
      pushedAt: ago(clock, 90 * DAY_MS),
      pulledAt: ago(clock, 5 * DAY_MS),
    });
    await scanned(storage, sha(2), ago(clock, 2 * DAY_MS));
    // not due: last used 40 days ago
    await storage.images.upsert({
      registry: reg,
      repository: 'team/c',
      digest: sha(3),
      pushedAt: ago(clock, 40 * DAY_MS),
    });
    // not due: scanned an hour ago
    await storage.images.upsert({ registry: reg, repository: 'team/d', digest: sha(4), pushedAt: ago(clock, DAY_MS) });
    await scanned(storage, sha(4), ago(clock, HOUR));
    // not due: never pushed or pulled (only seen)
    await storage.images.upsert({ registry: reg, repository: 'team/e', digest: sha(5) });
    // not due: a local scan
    await storage.images.upsert({
      registry: 'local',
      repository: 'oci:/tmp/x',
      digest: sha(6),
      pushedAt: ago(clock, HOUR),
    });

    const first = await planRescans(storage, { now: clock.now(), windowMs: 30 * DAY_MS, everyMs: DAY_MS, pageSize: 2 });
    assert.equal(first.considered, 7);
    assert.equal(first.due, 3);
    assert.equal(first.enqueued, 2);
    assert.equal(first.alreadyQueued, 1); // the mirror of sha(1)
    assert.deepEqual(first.errors, []);

    const jobs = await storage.jobs.list({ kind: SCAN_JOB_KIND });
    const refs = jobs.items.map((j) => parseScanPayload(j.payload).imageRef).sort();
    assert.deepEqual(refs, [`${reg}/team/a@${sha(1)}`, `${reg}/team/b@${sha(2)}`]);
    assert.ok(jobs.items.every((j) => j.dedupeKey === `scan:${parseScanPayload(j.payload).imageRef}`));
    // Each job has its scan record, as the API's own scans do.
    for (const j of jobs.items)
      assert.equal((await storage.scans.get(parseScanPayload(j.payload).scanId))?.status, 'queued');

    const again = await planRescans(storage, { now: clock.now(), windowMs: 30 * DAY_MS, everyMs: DAY_MS });
    assert.equal(again.enqueued, 0);
    assert.equal(again.due, 3);
    assert.equal((await storage.jobs.list({ kind: SCAN_JOB_KIND })).total, 2);
    assert.equal((await storage.scans.list()).total, 2, 'no scan record made for nothing');

    // A day later the image scanned an hour ago is due too.
    clock.advance(DAY_MS);
    const later = await planRescans(storage, { now: clock.now(), windowMs: 30 * DAY_MS, everyMs: DAY_MS });
    assert.equal(later.enqueued, 1);
  });

  test('limits defer the rest to the next plan', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    for (let i = 1; i <= 5; i++) {
      await storage.images.upsert({
        registry: 'r.example.com',
        repository: `x/${i}`,
        digest: sha(i),
        pushedAt: ago(clock, HOUR),
      });
    }
    const r = await planRescans(storage, { now: clock.now(), maxEnqueues: 2 });
    assert.equal(r.enqueued, 2);
    assert.equal(r.deferred, 3);
    const r2 = await planRescans(storage, { now: clock.now(), maxEnqueues: 2 });
    assert.equal(r2.enqueued, 2);
    const r3 = await planRescans(storage, { now: clock.now(), maxImages: 3 });
    assert.equal(r3.considered, 3);
  });
});
