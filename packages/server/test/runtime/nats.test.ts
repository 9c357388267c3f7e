/**
 * The NATS JetStream path against the NATS server on this machine (NATS_TEST_URL, default
 * nats://127.0.0.1:4222): ingest publishes and answers 202, the durable consumer detects and
 * stores, a republished batch is dropped, a worker that dies between commit and ack does not
 * duplicate anything, and a batch over the server's max_payload travels in parts. Each test uses
 * a stream and subject of its own, deleted afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import type { RuntimeEvent } from '@palisade/core';
import { createRuntimePipeline, type NatsPipelineOptions } from '../../src/runtime/pipeline.js';
import { forEachBackend, TestClock } from '../storage/harness.js';
import { again, auth, batch, builtinEngine, fixtureEvent, runtimeApp } from './helpers.js';

const NATS_URL = process.env['NATS_TEST_URL'] ?? 'nats://127.0.0.1:4222';

function natsNames(): NatsPipelineOptions {
  const tag = randomBytes(5).toString('hex');
  return {
    url: NATS_URL,
    stream: `PALISADE_RUNTIME_TEST_${tag}`,
    subject: `palisade.test.${tag}.batches`,
    durable: 'palisade-detect-store',
    name: `palisade-test-${tag}`,
    maxBytes: 256 * 1024 * 1024,
  };
}

async function deleteStream(name: string | undefined): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(name ?? '').catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Poll until `check` is true; bounded by time and count. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    if (Date.now() > deadline) break;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

forEachBackend((h) => {
  test('ingest → JetStream → consumer → alert in the API; a republished batch is a JetStream duplicate', async () => {
    const names = natsNames();
    const db = await h.fresh();
    const storage = await db.open();
    const t = await runtimeApp(storage, { clock: new TestClock(), nats: names });
    try {
      assert.equal(t.pipeline.mode, 'nats');
      const b = batch({ batchId: 'js-1', events: [fixtureEvent('fx-001'), fixtureEvent('fx-032')] });
      const post = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: auth(t.ingest.prod),
        payload: b,
      });
      assert.equal(post.statusCode, 202, post.body);
      assert.deepEqual(post.json(), {
        batchId: 'js-1',
        accepted: true,
        queued: true,
        alerts: null,
        events: 2,
        duplicates: null,
      });

      let items: Array<{ ruleId: string; clusterId: string }> = [];
      await until('the alerts in the API', async () => {
        const r = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
        items = r.json<{ items: typeof items }>().items;
        return items.length >= 2;
      });
      assert.ok(items.some((a) => a.ruleId === 'PAL-RT-001'));
      assert.ok(items.every((a) => a.clusterId === t.clusters.prod));

      const again1 = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: auth(t.ingest.prod),
        payload: b,
      });
      assert.equal(again1.statusCode, 202);
      assert.equal(again1.json<{ accepted: boolean }>().accepted, false, 'JetStream dropped the republished batch');
      const transport = t.pipeline.transport();
      assert.ok(transport);
      await until('the consumer to drain', async () => (await transport.backlog()) === 0);
      assert.equal(t.pipeline.stats().processed, 1);
      const rows = await db.raw('SELECT COUNT(*) AS n FROM ingest_batches');
      assert.equal(Number(rows[0]?.['n']), 1);
    } finally {
      await t.close();
      await deleteStream(names.stream);
    }
  });
});

test('a worker that dies between commit and ack: the batch is redelivered and nothing is stored twice', async () => {
  const names = { ...natsNames(), ackWaitMs: 1000, retryDelayMs: 200 };
  const { tempDir } = await import('@palisade/testkit');
  const { openStorage } = await import('../../src/storage/index.js');
  const dir = tempDir('palisade-rt-nats-');
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 7) });
  const engine = builtinEngine();
  const clock = new TestClock();
  // Worker 1 commits the batch but never acks it, as if killed right after the commit.
  let committedUnacked = 0;
  const first = createRuntimePipeline({
    storage,
    engine,
    clock,
    nats: {
      ...names,
      beforeAck: () => {
        committedUnacked++;
        return Promise.resolve(false);
      },
    },
  });
  let second: ReturnType<typeof createRuntimePipeline> | undefined;
  try {
    await first.start();
    // A registered cluster: the consumer drops messages naming any other.
    const cluster = { clusterId: (await storage.clusters.create({ name: 'prod' })).cluster.id, clusterName: 'prod' };
    const b = batch({ batchId: 'crash-1', events: [fixtureEvent('fx-003'), fixtureEvent('fx-005')] });
    const out = await first.submit(cluster, b);
    assert.equal(out.queued, true);
    await until('worker 1 to commit', () => Promise.resolve(committedUnacked >= 1));
    const stored = (await storage.alerts.list({})).total;
    assert.ok(stored >= 2);
    await first.close();

    // Worker 2 (the restarted process) gets the unacked message after ackWait.
    second = createRuntimePipeline({ storage, engine, clock, nats: names });
    await second.start();
    const w2 = second;
    await until('the redelivery', () => Promise.resolve(w2.stats().redelivered >= 1 && w2.stats().processed >= 1));
    const transport = second.transport();
    assert.ok(transport);
    await until('the consumer to drain', async () => (await transport.backlog()) === 0);
    assert.equal(second.stats().duplicates, second.stats().processed, 'the redelivered batch was recognized');
    assert.equal((await storage.alerts.list({})).total, stored, 'no alert stored twice');
    const groups = await storage.alerts.groups({});
    assert.equal(
      groups.items.reduce((n, g) => n + g.count, 0),
      stored,
      'group counts not incremented by the redelivery',
    );
  } finally {
    await first.close();
    await second?.close();
    await storage.close();
    dir.cleanup();
    await deleteStream(names.stream);
  }
});

test('a batch larger than the NATS max_payload is split into parts and stored whole', async () => {
  const names = natsNames();
  const { tempDir } = await import('@palisade/testkit');
  const { openStorage } = await import('../../src/storage/index.js');
  const dir = tempDir('palisade-rt-nats-');
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 7) });
  const pipeline = createRuntimePipeline({ storage, engine: builtinEngine(), clock: new TestClock(), nats: names });
  try {
    await pipeline.start();
    const transport = pipeline.transport();
    assert.ok(transport);
    // Interactive shells (fx-001) with incompressible command lines: well over max_payload gzipped.
    const n = Math.ceil((transport.maxPayload * 2) / 600);
    const events: RuntimeEvent[] = Array.from({ length: n }, (_, i) => {
      const ev = again('fx-001', `big-${i}`, new Date(Date.parse('2026-03-01T10:00:00Z') + i).toISOString());
      if ('proc' in ev) ev.proc.argv = ['bash', randomBytes(600).toString('base64')];
      return ev;
    });
    const big = (await storage.clusters.create({ name: 'big' })).cluster.id;
    const out = await pipeline.submit(
      { clusterId: big, clusterName: 'big' },
      batch({
        batchId: 'big-1',
        events,
        counters: { seen: { 'process.exec': n }, kernelDrops: 1, userDrops: 0, spoolDrops: 0 },
      }),
    );
    assert.equal(out.accepted, true);
    await until(
      'every part stored',
      async () => (await storage.alerts.list({ ruleId: 'PAL-RT-001' })).total === n,
      60_000,
    );
    const [c] = await storage.alerts.counters(big);
    assert.equal(c?.kernelDrops, 1, 'counters added once, with the first part');
    assert.deepEqual(c?.seen, { 'process.exec': n });
    assert.ok((c?.batches ?? 0) >= 2, `sent in ${c?.batches} parts`);
  } finally {
    await pipeline.close();
    await storage.close();
    dir.cleanup();
    await deleteStream(names.stream);
  }
});

test('an unreachable NATS server fails the start with an error naming NATS_URL', async () => {
  const { tempDir } = await import('@palisade/testkit');
  const { openStorage } = await import('../../src/storage/index.js');
  const dir = tempDir('palisade-rt-nats-');
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 7) });
  const pipeline = createRuntimePipeline({
    storage,
    engine: builtinEngine(),
    clock: new TestClock(),
    // A loopback port nothing listens on.
    nats: { url: 'nats://127.0.0.1:1' },
  });
  try {
    await assert.rejects(pipeline.start(), { code: 'E_NETWORK', subject: 'NATS_URL' });
  } finally {
    await pipeline.close();
    await storage.close();
    dir.cleanup();
  }
});
