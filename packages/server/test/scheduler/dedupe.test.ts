/**
 * One dedupe key scheme for scan jobs: a scheduled rescan (a reference by digest through the
 * ScanQueue) and a push of the same registry + digest (enqueueDigest) share one pending scan, in
 * either order and whatever repository each names. On both backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRescans } from '../../src/scheduler/rescan.js';
import { createScanQueue, digestDedupeKey, SCAN_JOB_KIND } from '../../src/worker/queue.js';
import { forEachBackend, sha, TestClock } from '../storage/harness.js';

const HOST = '127.0.0.1:5999';

forEachBackend((h) => {
  test('a rescan and a push of the same digest queue one scan', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    const registry = await storage.registries.create({ name: 'r', url: `http://${HOST}` });
    const queue = createScanQueue(storage, { allowLocalSources: false });
    const now = clock.now();
    for (const [repository, digest] of [
      ['team/a', sha(1)],
      ['team/b', sha(2)],
    ] as const) {
      await storage.images.upsert({ registry: HOST, repository, digest, pushedAt: now.toISOString() });
    }

    // Rescan first, then the push (of the same digest under another repository).
    const plan = await planRescans(storage, { now, scans: queue });
    assert.equal(plan.enqueued, 2);
    const pushed = await queue.enqueueDigest({ registry, repository: 'team/a-copy', digest: sha(1) });
    assert.equal(pushed.created, false);
    assert.equal(pushed.reason, 'pending');

    // Push first (registry's pending scan), then a plan: nothing new.
    const pushed3 = await queue.enqueueDigest({ registry, repository: 'team/c', digest: sha(3) });
    assert.equal(pushed3.created, true);
    await storage.images.upsert({ registry: HOST, repository: 'team/c', digest: sha(3), pushedAt: now.toISOString() });
    const again = await planRescans(storage, { now, scans: queue });
    assert.equal(again.enqueued, 0);
    assert.equal(again.alreadyQueued, 3);

    // A manual scan by digest shares the key too.
    const manual = await queue.enqueue(`${HOST}/team/other@${sha(2)}`);
    assert.equal(manual.created, false);

    const jobs = await storage.jobs.list({ kind: SCAN_JOB_KIND, limit: 50 });
    assert.deepEqual(
      jobs.items.map((j) => j.dedupeKey).sort(),
      [1, 2, 3].map((n) => digestDedupeKey(registry.id, sha(n))).sort(),
    );
    assert.equal((await storage.scans.list({})).total, 3);
    await storage.close();
  });

  test('references by tag, or into an unregistered registry, keep their own key', async () => {
    const storage = await (await h.fresh()).open({ clock: new TestClock() });
    await storage.registries.create({ name: 'r', url: `http://${HOST}` });
    const queue = createScanQueue(storage, { allowLocalSources: false });
    assert.equal((await queue.enqueue(`${HOST}/team/a:1.0`)).created, true);
    assert.equal((await queue.enqueue(`other.example.com/team/a@${sha(1)}`)).created, true);
    assert.equal((await queue.enqueue(`other.example.com/team/b@${sha(1)}`)).created, true);
    assert.equal((await queue.enqueue(`${HOST}/team/a:1.0`)).created, false);
    await storage.close();
  });
});
