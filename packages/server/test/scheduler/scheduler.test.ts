/**
 * The Scheduler on both backends, two replicas sharing one database and one hand-moved clock:
 * each periodic task runs once per interval whichever replica ticks, a DB update is rematched
 * once, and failures do not break the chain of occurrences.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import { sharedPath, tempDir } from '@palisade/testkit';
import { importPaths } from '@palisade/vulndb';
import {
  createScheduler,
  pollDedupeKey,
  REGISTRY_POLL_JOB_KIND,
  REMATCH_JOB_KIND,
  RESCAN_PLAN_JOB_KIND,
  type PollClient,
  type RegistryClientFactory,
  type Scheduler,
  type SchedulerOptions,
} from '../../src/scheduler/index.js';
import type { Storage } from '../../src/storage/index.js';
import { createVulnDbHolder } from '../../src/worker/vulndb.js';
import { SCAN_JOB_KIND } from '../../src/worker/queue.js';
import { forEachBackend, sha, TestClock } from '../storage/harness.js';

const MIN = 60_000;

let dir: { path: string; cleanup: () => void };
let oldDb: string;
let newDb: string;

before(async () => {
  dir = tempDir('palisade-scheduler-');
  oldDb = join(dir.path, 'old.db');
  newDb = join(dir.path, 'new.db');
  const samples = sharedPath('vulndata', 'samples', 'ghsa-npm');
  await importPaths([samples], oldDb, { now: new Date('2025-03-01T00:00:00Z') });
  await importPaths([samples], newDb, { now: new Date('2025-03-02T00:00:00Z') });
});

after(() => dir?.cleanup());

/** A registry with one repository and one tag, counting catalog requests. */
function fakeRegistry(
  digest: string,
  fail?: PalisadeError,
): { factory: RegistryClientFactory; catalogs: () => number } {
  let catalogs = 0;
  const client: PollClient = {
    catalog: () => {
      catalogs++;
      return fail ? Promise.reject(fail) : Promise.resolve(['app']);
    },
    listTags: () => Promise.resolve(['1']),
    getManifest: () => Promise.resolve({ digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' }),
    close: () => undefined,
  };
  return { factory: () => client, catalogs: () => catalogs };
}

function scheduler(storage: Storage, clock: TestClock, extra: Partial<SchedulerOptions>): Scheduler {
  return createScheduler({
    storage,
    clock,
    rescan: { intervalMs: 60 * MIN },
    rematch: { enabled: false },
    ...extra,
    poll: { intervalMs: 15 * MIN, ...extra.poll },
  });
}

forEachBackend((h) => {
  test('each periodic task runs once per interval across two replicas', async () => {
    const clock = new TestClock();
    const tdb = await h.fresh();
    const s1 = await tdb.open({ clock });
    const s2 = await tdb.open({ clock });
    const polled = await s1.registries.create({ name: 'nohook', url: 'http://registry.example.com:5000' });
    const hooked = await s1.registries.create({ name: 'hook', url: 'http://hooked.example.com' });
    await s1.registries.rotateWebhookToken(hooked.id);
    await s1.images.upsert({
      registry: 'other.example.com',
      repository: 'team/x',
      digest: sha(9),
      pushedAt: clock.now().toISOString(),
    });
    const fake = fakeRegistry(sha(1));
    const a = scheduler(s1, clock, { poll: { clientFactory: fake.factory }, workerId: 'a' });
    const b = scheduler(s2, clock, { poll: { clientFactory: fake.factory }, workerId: 'b' });

    const t1 = await a.runOnce();
    assert.deepEqual(t1.enqueued.sort(), [pollDedupeKey(polled.id), RESCAN_PLAN_JOB_KIND].sort());
    assert.deepEqual(t1.ran.map((r) => [r.kind, r.outcome]).sort(), [
      [REGISTRY_POLL_JOB_KIND, 'succeeded'],
      [RESCAN_PLAN_JOB_KIND, 'succeeded'],
    ]);
    assert.equal(fake.catalogs(), 1, 'only the registry without a webhook token is polled');
    // The plan queued the pushed image, the poll the polled one.
    const scans = await s1.jobs.list({ kind: SCAN_JOB_KIND });
    assert.equal(scans.total, 2);

    // The other replica, same moment: everything is already done or queued for later.
    const t2 = await b.runOnce();
    assert.deepEqual(t2.enqueued, []);
    assert.deepEqual(t2.ran, []);
    const queued = await s1.jobs.list({ status: 'queued' });
    const next = (kind: string): string | undefined => queued.items.find((j) => j.kind === kind)?.runAt;
    assert.equal(next(RESCAN_PLAN_JOB_KIND), new Date(clock.now().getTime() + 60 * MIN).toISOString());
    assert.equal(next(REGISTRY_POLL_JOB_KIND), new Date(clock.now().getTime() + 15 * MIN).toISOString());

    clock.advance(15 * MIN);
    const t3 = await b.runOnce();
    assert.deepEqual(
      t3.ran.map((r) => r.kind),
      [REGISTRY_POLL_JOB_KIND],
    );
    assert.deepEqual((await a.runOnce()).ran, []);
    assert.equal(fake.catalogs(), 2);

    clock.advance(45 * MIN);
    const t4 = await a.runOnce();
    assert.deepEqual(t4.ran.map((r) => r.kind).sort(), [REGISTRY_POLL_JOB_KIND, RESCAN_PLAN_JOB_KIND].sort());
    const plan = t4.ran.find((r) => r.kind === RESCAN_PLAN_JOB_KIND)?.task;
    assert.ok(plan?.kind === RESCAN_PLAN_JOB_KIND && plan.result.enqueued === 0 && plan.result.alreadyQueued >= 1);
    assert.equal((await s1.jobs.list({ kind: SCAN_JOB_KIND })).total, 2, 'pending scans are not queued twice');

    // A registry that gets a webhook token is no longer polled: its chain ends.
    await s1.registries.rotateWebhookToken(polled.id);
    clock.advance(15 * MIN);
    const t5 = await a.runOnce();
    assert.deepEqual(
      t5.ran.map((r) => [r.kind, r.outcome]),
      [[REGISTRY_POLL_JOB_KIND, 'succeeded']],
    );
    assert.equal(fake.catalogs(), 3, 'the stale job ran without polling');
    assert.equal((await s1.jobs.list({ kind: REGISTRY_POLL_JOB_KIND, status: 'queued' })).total, 0);
  });

  test('a failing poll ends its occurrence and the next one still comes', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    await storage.registries.create({ name: 'r', url: 'https://r.example.com' });
    const fake = fakeRegistry(sha(1), new PalisadeError('E_AUTH', 'denied', { subject: 'r.example.com' }));
    const s = scheduler(storage, clock, { rescan: { enabled: false }, poll: { clientFactory: fake.factory } });
    const t1 = await s.runOnce();
    assert.equal(t1.ran.length, 1);
    assert.equal(t1.ran[0]?.outcome, 'failed');
    assert.match(t1.ran[0]?.error ?? '', /denied/);
    const queued = await storage.jobs.list({ kind: REGISTRY_POLL_JOB_KIND, status: 'queued' });
    assert.equal(queued.items[0]?.runAt, new Date(clock.now().getTime() + 15 * MIN).toISOString());
    assert.deepEqual((await s.runOnce()).ran, []);
    clock.advance(15 * MIN);
    assert.equal((await s.runOnce()).ran[0]?.outcome, 'failed');
    assert.equal(fake.catalogs(), 2);
  });

  test('a replaced DB file is rematched once, with the new DB', async () => {
    const clock = new TestClock();
    const tdb = await h.fresh();
    const s1 = await tdb.open({ clock });
    const s2 = await tdb.open({ clock });
    const path = join(dir.path, `sched-${h.backend}.db`);
    copyFileSync(oldDb, path);
    const holder1 = createVulnDbHolder(path);
    const holder2 = createVulnDbHolder(path);
    const opts = (storage: Storage, holder: typeof holder1, id: string): Partial<SchedulerOptions> => ({
      storage,
      vulnDb: holder,
      dbPath: path,
      rescan: { enabled: false },
      poll: { enabled: false },
      rematch: { checkIntervalMs: MIN },
      workerId: id,
    });
    const a = scheduler(s1, clock, opts(s1, holder1, 'a'));
    const b = scheduler(s2, clock, opts(s2, holder2, 'b'));
    try {
      assert.equal((await a.runOnce()).dbCheck?.outcome, 'baseline');
      assert.equal((await b.runOnce()).dbCheck?.outcome, 'baseline');

      const tmp = `${path}.tmp`;
      copyFileSync(newDb, tmp);
      renameSync(tmp, path);

      // Within the check interval nothing looks at the file.
      assert.equal((await a.runOnce()).dbCheck, null);
      clock.advance(MIN);
      const t = await a.runOnce();
      assert.equal(t.dbCheck?.outcome, 'rematch-queued');
      assert.equal(t.ran.length, 1);
      const run = t.ran[0];
      assert.equal(run?.outcome, 'succeeded');
      assert.ok(run?.task?.kind === REMATCH_JOB_KIND);
      assert.equal(run.task.result.dbBuiltAt, '2025-03-02T00:00:00.000Z', 'matched with the new DB');

      const tb = await b.runOnce();
      assert.equal(tb.dbCheck?.outcome, 'already-rematched');
      assert.deepEqual(tb.ran, []);
      assert.equal((await s1.jobs.list({ kind: REMATCH_JOB_KIND })).total, 1);
    } finally {
      await a.stop();
      await b.stop();
      holder1.close();
      holder2.close();
    }
  });

  test('start and stop', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    const s = scheduler(storage, clock, {});
    s.start();
    s.start(); // idempotent
    await s.stop();
    await s.stop();
    // The tick started by start() ran to its end before stop() returned.
    assert.equal((await storage.jobs.list({ kind: RESCAN_PLAN_JOB_KIND })).total, 1);
  });
});
