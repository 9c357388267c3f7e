/**
 * Polling a REAL registry (the distribution registry from testkit, images pushed with skopeo),
 * on both backends: new tags and moved tags are found, images are recorded with their tags, and
 * one scan is queued per new digest.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  pushLayout,
  startRegistry,
  tempDir,
  writeOciLayout,
  type LayoutResult,
  type TestRegistry,
} from '@palisade/testkit';
import { pollRegistry } from '../../src/scheduler/poll.js';
import type { Storage } from '../../src/storage/index.js';
import { parseScanPayload, SCAN_JOB_KIND } from '../../src/worker/queue.js';
import { forEachBackend, TestClock } from '../storage/harness.js';

let dir: { path: string; cleanup: () => void };
let v1: LayoutResult;
let v2: LayoutResult;

function image(name: string, content: string): LayoutResult {
  return writeOciLayout(join(dir.path, name), 'v', [{ layers: [{ files: [{ path: 'etc/release', content }] }] }]);
}

before(async () => {
  dir = tempDir('palisade-poll-');
  v1 = image('v1', 'one\n');
  v2 = image('v2', 'two\n');
});

after(() => dir?.cleanup());

/** A registry of its own per test, so the backends never see each other's repositories. */
async function withRegistry(fn: (registry: TestRegistry) => Promise<void>): Promise<void> {
  const registry = await startRegistry();
  try {
    await fn(registry);
  } finally {
    await registry.stop();
  }
}

async function scanRefs(storage: Storage): Promise<string[]> {
  const jobs = await storage.jobs.list({ kind: SCAN_JOB_KIND, limit: 500 });
  return jobs.items.map((j) => parseScanPayload(j.payload).imageRef).sort();
}

forEachBackend((h) => {
  test('poll finds new tags and moved tags and queues one scan per new digest', () =>
    withRegistry(async (registry) => {
      const clock = new TestClock();
      const storage = await (await h.fresh()).open({ clock });
      // Each backend polls its own repositories in the shared registry.
      const app = `${h.backend}/app`;
      const other = `${h.backend}/other`;
      const reg = await storage.registries.create({ name: 'test', url: registry.url, insecure: true });

      await pushLayout(v1.dir, 'v', registry, `${app}:1.0`);
      await pushLayout(v1.dir, 'v', registry, `${app}:latest`);
      await pushLayout(v1.dir, 'v', registry, `${other}:1.0`);

      const first = await pollRegistry(storage, reg.id, { now: clock.now() });
      assert.deepEqual(first.errors, []);
      assert.ok(first.repositories.listed >= 2);
      assert.equal(first.newDigests, 2, 'one image per repository');
      assert.equal(first.enqueued, 1, 'one scan for the one digest');
      const queued = await scanRefs(storage);
      assert.equal(queued.length, 1);
      // Repositories are polled in name order: the digest is queued under the first one holding it.
      assert.equal(queued[0], `${registry.host}/${app}@${v1.digest}`);

      const appV1 = await storage.images.find(registry.host, app, v1.digest);
      assert.deepEqual(appV1?.tags, ['1.0', 'latest']);
      assert.equal(appV1?.lastPushedAt, clock.now().toISOString(), 'found-at stands in for the push time');
      assert.deepEqual((await storage.images.find(registry.host, other, v1.digest))?.tags, ['1.0']);

      // Nothing changed: nothing new.
      clock.advance(60_000);
      const same = await pollRegistry(storage, reg.id, { now: clock.now() });
      assert.equal(same.newDigests, 0);
      assert.equal(same.retagged, 0);
      assert.equal(same.enqueued, 0);

      // latest moves to a new image, and a new tag appears on it.
      await pushLayout(v2.dir, 'v', registry, `${app}:latest`);
      await pushLayout(v2.dir, 'v', registry, `${app}:2.0`);
      clock.advance(60_000);
      const moved = await pollRegistry(storage, reg.id, { now: clock.now() });
      assert.deepEqual(moved.errors, []);
      assert.equal(moved.newDigests, 1);
      assert.equal(moved.enqueued, 1);
      const refs = await scanRefs(storage);
      assert.equal(refs.length, 2);
      assert.ok(refs.includes(`${registry.host}/${app}@${v2.digest}`));
      assert.deepEqual((await storage.images.find(registry.host, app, v2.digest))?.tags, ['2.0', 'latest']);

      // Again: the pending scans are not queued twice.
      const again = await pollRegistry(storage, reg.id, { now: clock.now() });
      assert.equal(again.enqueued, 0);
      assert.equal((await scanRefs(storage)).length, 2);
    }));

  test('work per poll is bounded and rotates through a large registry', () =>
    withRegistry(async (registry) => {
      // Other repositories around the one looked at.
      for (const r of ['aaa', 'zzz', 'mmm']) await pushLayout(v1.dir, 'v', registry, `${r}/x:1`);
      const clock = new TestClock();
      const storage = await (await h.fresh()).open({ clock });
      const reg = await storage.registries.create({ name: 'test', url: registry.url, insecure: true });
      const many = `${h.backend}/many`;
      await pushLayout(v1.dir, 'v', registry, `${many}:a`);
      await pushLayout(v2.dir, 'v', registry, `${many}:b`);

      const seen = new Set<string>();
      let total = Infinity;
      // Two full cycles through the catalog, one repository and one tag per poll.
      for (let round = 0; round < 2 * total; round++) {
        const r = await pollRegistry(storage, reg.id, {
          now: clock.now(),
          maxRepositories: 1,
          maxTagsPerRepository: 1,
          round,
        });
        assert.equal(r.repositories.polled, 1);
        assert.ok(r.tags.resolved <= 1);
        assert.equal(r.truncated, true);
        total = r.repositories.listed;
      }
      const images = await storage.images.list({ repository: many });
      for (const i of images.items) for (const t of i.tags) seen.add(t);
      // Rotation reached the repository and both of its tags within the rounds tried.
      assert.ok(total > 1);
      assert.deepEqual([...seen].sort(), ['a', 'b']);
    }));
});
