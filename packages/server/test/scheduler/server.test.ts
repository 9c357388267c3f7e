/**
 * The scheduler as startServer wires it: the `scheduler` config section reaches it, it runs
 * against the server's storage and scan queue, and it takes the daily trend point. Ticks are
 * driven with runOnce on an injected clock, never by waiting for the timer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { startServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { RESCAN_PLAN_JOB_KIND, TREND_SNAPSHOT_JOB_KIND } from '../../src/scheduler/index.js';
import type { ScanFn } from '../../src/worker/worker.js';
import { TestClock } from '../storage/harness.js';

const KEY = Buffer.alloc(32, 9);
const DIGEST = `sha256:${'c'.repeat(64)}`;

// Rescans must not reach the network: the image is gone, for good.
const gone: ScanFn = () => Promise.reject(new PalisadeError('E_NOT_FOUND', 'no such image', { subject: 'test' }));

test('a started server plans rescans and takes the trend snapshot on its own clock', async () => {
  const d = tempDir();
  const clock = new TestClock('2025-06-10T08:00:00.000Z');
  const env = { PALISADE_RESCAN_INTERVAL: '2s', PALISADE_RESCAN_EVERY: '1h' };
  const config = loadConfig({ env, flags: { port: '0', dataDir: join(d.path, 'data') } });
  assert.equal(config.scheduler.rescan.intervalMs, 2_000);
  const s = await startServer(config, {
    env: {},
    clock,
    logStream: false,
    storage: { secretKey: KEY },
    worker: { scan: gone },
    // The timer never fires during the test: only the first tick (start) and runOnce run.
    scheduler: { tickMs: 3_600_000 },
  });
  try {
    const scheduler = s.scheduler;
    assert.ok(scheduler, 'scheduler is on by default');
    // Wait for the tick start() began (ticks run one after another), on an empty catalog.
    await scheduler.runOnce();

    await s.storage.images.upsert({
      registry: 'registry.example.com',
      repository: 'team/app',
      digest: DIGEST,
      tags: ['1.0'],
      pushedAt: clock.now().toISOString(),
    });
    // Past the 2 s interval: the next plan is due, and so is nothing else but the trend chain's.
    clock.advance(3_000);
    const tick = await scheduler.runOnce();
    const plan = tick.ran.find((r) => r.kind === RESCAN_PLAN_JOB_KIND);
    assert.equal(plan?.outcome, 'succeeded');
    assert.ok(plan.task?.kind === RESCAN_PLAN_JOB_KIND);
    assert.equal(plan.task.result.due, 1);
    assert.equal(plan.task.result.enqueued, 1);
    const scans = await s.storage.scans.list({});
    assert.deepEqual(
      scans.items.map((x) => x.imageRef),
      [`registry.example.com/team/app@${DIGEST}`],
    );

    // The trend point of the start tick's day exists, and counts the image once it is re-taken.
    const day = clock.now().toISOString().slice(0, 10);
    const before = await s.storage.trends.range(day, day);
    assert.equal(before.length, 1);
    assert.equal(before[0]?.images, 0, 'taken at start, before the image existed');
    clock.advance(3_600_000 + 1_000);
    const later = await scheduler.runOnce();
    assert.ok(later.ran.some((r) => r.kind === TREND_SNAPSHOT_JOB_KIND && r.outcome === 'succeeded'));
    const after = await s.storage.trends.range(day, day);
    assert.equal(after.length, 1, 'one point per day: a later snapshot replaces it');
    assert.equal(after[0]?.images, 1);
    assert.equal(after[0]?.unscanned, 1);
  } finally {
    await s.close();
    d.cleanup();
  }
});

test('scheduler config: defaults, durations, and errors that name the field', () => {
  const c = loadConfig({ env: {}, cwd: '/srv' });
  assert.deepEqual(c.scheduler, {
    enabled: true,
    rescan: { intervalMs: 3_600_000, windowMs: 30 * 86_400_000, everyMs: 86_400_000 },
    poll: { intervalMs: 900_000 },
    rematch: true,
  });
  const d = tempDir();
  try {
    const file = join(d.path, 'palisade.yaml');
    writeFileSync(
      file,
      'scheduler:\n  enabled: false\n  rescan:\n    window: 7d\n    every: 12h\n  poll:\n    interval: 90s\n  rematch: false\n',
    );
    const f = loadConfig({ file, env: { PALISADE_RESCAN_INTERVAL: '600000' } });
    assert.deepEqual(f.scheduler, {
      enabled: false,
      rescan: { intervalMs: 600_000, windowMs: 7 * 86_400_000, everyMs: 43_200_000 },
      poll: { intervalMs: 90_000 },
      rematch: false,
    });
    writeFileSync(file, 'scheduler:\n  rescan:\n    intervall: 1h\n');
    assert.throws(() => loadConfig({ file, env: {} }), /unknown key "scheduler\.rescan\.intervall"/);
  } finally {
    d.cleanup();
  }
  const bad = (env: Record<string, string>): string => {
    try {
      loadConfig({ env });
    } catch (err) {
      assert.ok(err instanceof PalisadeError);
      assert.equal(err.code, 'E_CONFIG');
      return err.describe();
    }
    return assert.fail('expected an E_CONFIG error');
  };
  assert.match(
    bad({ PALISADE_POLL_INTERVAL: 'soon' }),
    /scheduler\.poll\.interval: must be a duration.*"soon".*PALISADE_POLL_INTERVAL/,
  );
  assert.match(bad({ PALISADE_RESCAN_WINDOW: '10ms' }), /scheduler\.rescan\.window: must be a duration/);
  assert.match(bad({ PALISADE_REMATCH: 'maybe' }), /scheduler\.rematch: must be true or false/);
});
