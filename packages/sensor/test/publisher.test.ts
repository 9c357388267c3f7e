/**
 * The publisher end to end against real parts: a collector (TransportClient, or runCollector
 * over a fake event source) → unix socket → publisher (spool on disk) → HTTPS ingest server
 * written in the test (openssl CA), sometimes through a CONNECT proxy. Faults: the server
 * down, a spool at its limit, the publisher killed (a child process) and restarted, a refused
 * token, a rejected batch, a lost response. No timing assertions: every wait is for a state.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RuntimeEvent, RuntimeIngestBatch } from '@palisade/core';
import { createIngestClient } from '../src/ingest-client.js';
import { runPublisher, type Publisher, type PublisherOptions } from '../src/publisher.js';
import { TransportClient } from '../src/transport-client.js';
import { runCollector, type CollectorSource } from '../src/collector.js';
import {
  alertFor,
  execEvent,
  makeCa,
  startConnectProxy,
  startIngestServer,
  until,
  type TestCa,
  type TestIngestServer,
} from './publisher-testkit.test.js';

const TOKEN = 'cluster-ingest-token-xyz';
let ca: TestCa;
let srv: TestIngestServer;

before(async () => {
  ca = makeCa();
  srv = await startIngestServer(ca, TOKEN);
});
after(async () => {
  await srv.close();
  ca.cleanup();
});

interface Rig {
  dir: string;
  socketPath: string;
  spoolDir: string;
  logs: string[];
  cleanup(): void;
}

function rig(): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-pub-'));
  return {
    dir,
    socketPath: join(dir, 'publisher.sock'),
    spoolDir: join(dir, 'spool'),
    logs: [],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function startPublisher(r: Rig, over: Partial<PublisherOptions> = {}, env: NodeJS.ProcessEnv = {}): Promise<Publisher> {
  const client = createIngestClient({
    url: srv.url,
    token: TOKEN,
    caFile: ca.caFile,
    env,
    maxAttempts: 2,
    backoffInitialMs: 5,
    backoffMaxMs: 20,
    timeoutMs: 10_000,
  });
  return runPublisher({
    socketPath: r.socketPath,
    spoolDir: r.spoolDir,
    spoolLimitBytes: 64 * 1024 * 1024,
    client,
    node: 'node-a',
    batchMaxItems: 200,
    batchMaxWaitMs: 20,
    retryInitialMs: 10,
    retryMaxMs: 100,
    log: (l) => r.logs.push(l),
    ...over,
  });
}

function collector(r: Rig, over: Partial<ConstructorParameters<typeof TransportClient>[0]> = {}): TransportClient {
  const c = new TransportClient({
    socketPath: r.socketPath,
    node: 'node-a',
    reconnectInitialMs: 10,
    reconnectMaxMs: 100,
    log: (l) => r.logs.push(l),
    ...over,
  });
  c.start();
  return c;
}

/** Stored batches of this test only (the server is shared), by node marker in event ids. */
function storedEventIds(prefix: string): string[] {
  return srv.stored.flatMap((b) => b.events.map((e) => e.id)).filter((id) => id.startsWith(prefix));
}

function storedAlertIds(prefix: string): string[] {
  return srv.stored.flatMap((b) => b.alerts.map((a) => a.id)).filter((id) => id.startsWith(`al-${prefix}`));
}

function ev(prefix: string, n: number): RuntimeEvent {
  return { ...execEvent(n), id: `${prefix}${n}` };
}

function range(prefix: string, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);
}

function batchesWith(prefix: string): RuntimeIngestBatch[] {
  return srv.stored.filter(
    (b) => b.events.some((e) => e.id.startsWith(prefix)) || b.alerts.some((a) => a.id.startsWith(`al-${prefix}`)),
  );
}

test("publisher: batches arrive gzip'd with the token, through the CONNECT proxy, in order, with unique batch ids", async () => {
  const r = rig();
  const proxy = await startConnectProxy();
  const pub = await startPublisher(r, {}, { HTTPS_PROXY: proxy.url });
  const c = collector(r);
  try {
    for (let i = 0; i < 1000; i++) {
      const e = ev('p1-', i);
      c.offer({ k: 'event', event: e });
      if (i % 100 === 0) c.offer({ k: 'alert', alert: alertFor(e as ReturnType<typeof execEvent>) });
    }
    assert.equal(await c.flush(60_000), true);
    await srv.waitFor(() => storedEventIds('p1-').length === 1000);
    assert.deepEqual(storedEventIds('p1-'), range('p1-', 0, 1000));
    assert.equal(storedAlertIds('p1-').length, 10);
    const received = srv.received.filter((x) => x.batch.events.some((e) => e.id.startsWith('p1-')));
    assert.ok(received.every((x) => x.gzip && x.authorization === `Bearer ${TOKEN}`));
    assert.ok(received.every((x) => x.batch.node === 'node-a' && x.batch.source === 'collector'));
    assert.ok(received.every((x) => x.batch.events.length + x.batch.alerts.length <= 200));
    assert.equal(new Set(received.map((x) => x.batch.batchId)).size, received.length);
    assert.ok(proxy.tunnels >= received.length, 'every batch went through the proxy');
    assert.equal(await pub.idle(30_000), true);
    const st = pub.stats();
    assert.equal(st.eventsSent, 1000);
    assert.equal(st.alertsSent, 10);
    assert.equal(st.spoolItems, 0);
    assert.equal(st.spoolDrops, 0);
  } finally {
    await c.close();
    await pub.stop();
    await proxy.close();
    r.cleanup();
  }
});

test('publisher: server down → the spool holds everything; server up → it drains in order, nothing lost or duplicated', async () => {
  const r = rig();
  const pub = await startPublisher(r);
  const c = collector(r);
  await srv.down();
  let up = false;
  try {
    for (let i = 0; i < 3000; i++) c.offer({ k: 'event', event: ev('p2-', i) });
    assert.equal(await c.flush(60_000), true, 'the publisher acknowledged everything (spooled)');
    await until(() => pub.stats().sendFailures >= 2, 'failed sends');
    const spooled = pub.stats();
    assert.equal(spooled.itemsSpooled, 3000);
    assert.ok(spooled.spoolItems > 0 && spooled.spoolBytes > 0);
    assert.equal(spooled.serverReachable, false);
    assert.ok(
      r.logs.some((l) =>
        /cannot deliver to https:\/\/127\.0\.0\.1:\d+\/api\/v1\/ingest\/runtime: ECONNREFUSED/.test(l),
      ),
    );
    await srv.up();
    up = true;
    await srv.waitFor(() => storedEventIds('p2-').length >= 3000);
    assert.equal(await pub.idle(30_000), true);
    assert.deepEqual(storedEventIds('p2-'), range('p2-', 0, 3000), 'all, once, in order');
    assert.equal(pub.stats().spoolItems, 0);
    assert.ok(r.logs.some((l) => l.includes('reachable again')));
  } finally {
    if (!up) await srv.up();
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

test("publisher: beyond the spool limit new items are dropped, counted, and reported in the next batch's counters", async () => {
  const r = rig();
  const limit = 64 * 1024;
  const pub = await startPublisher(r, { spoolLimitBytes: limit, spoolSegmentBytes: 16 * 1024 });
  const c = collector(r);
  await srv.down();
  let up = false;
  try {
    const n = 2000;
    for (let i = 0; i < n; i++) c.offer({ k: 'event', event: ev('p3-', i) });
    assert.equal(await c.flush(60_000), true);
    const st = pub.stats();
    assert.ok(st.spoolDrops > 0, 'some items dropped');
    assert.equal(st.itemsSpooled + st.spoolDrops, n);
    assert.ok(st.spoolBytes <= limit, `spool ${st.spoolBytes} within ${limit}`);
    assert.ok(r.logs.some((l) => l.includes('spool full')));
    await srv.up();
    up = true;
    await srv.waitFor(() => storedEventIds('p3-').length >= st.itemsSpooled);
    assert.equal(await pub.idle(30_000), true);
    assert.deepEqual(storedEventIds('p3-'), range('p3-', 0, st.itemsSpooled), 'the oldest items kept, in order');
    const reported = batchesWith('p3-').reduce((s, b) => s + (b.counters?.spoolDrops ?? 0), 0);
    // Counters-only batches (no p3- items) may carry some of the drops too.
    const all = srv.stored
      .filter((b) => b.events.length === 0 || b.events.some((e) => e.id.startsWith('p3-')))
      .reduce((s, b) => s + (b.counters?.spoolDrops ?? 0), 0);
    assert.ok(reported > 0);
    assert.equal(all, st.spoolDrops, 'every drop reported exactly once');
  } finally {
    if (!up) await srv.up();
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

/** Runs a publisher in a child process (so it can be SIGKILLed) with the same settings. */
function spawnPublisher(r: Rig): { child: ChildProcess; ready: Promise<void>; exited: Promise<void> } {
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const cfg = JSON.stringify({
    src,
    url: srv.url,
    token: TOKEN,
    caFile: ca.caFile,
    socketPath: r.socketPath,
    spoolDir: r.spoolDir,
  });
  const script = `
    const cfg = JSON.parse(process.env.PUB_CFG);
    const { createIngestClient } = await import(cfg.src + 'ingest-client.js');
    const { runPublisher } = await import(cfg.src + 'publisher.js');
    const client = createIngestClient({ url: cfg.url, token: cfg.token, caFile: cfg.caFile, env: {}, maxAttempts: 2, backoffInitialMs: 5, backoffMaxMs: 20 });
    const pub = await runPublisher({ socketPath: cfg.socketPath, spoolDir: cfg.spoolDir, spoolLimitBytes: 64 << 20, client,
      node: 'node-a', batchMaxItems: 50, batchMaxWaitMs: 10, retryInitialMs: 10, retryMaxMs: 100,
      log: (l) => process.stderr.write(l + '\\n') });
    process.stdout.write('ready\\n');
    process.on('SIGTERM', () => { pub.stop().then(() => process.exit(0)); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, PUB_CFG: cfg },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (b: Buffer) => r.logs.push(b.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`publisher child exited (${code}): ${r.logs.join('')}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, ready, exited };
}

/** Events pushed by the test, as a Sensor would produce them. */
class PushSource implements CollectorSource {
  private q: RuntimeEvent[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  push(e: RuntimeEvent): void {
    this.q.push(e);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async *events(): AsyncIterable<RuntimeEvent> {
    for (;;) {
      const e = this.q.shift();
      if (e) {
        yield e;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

test('publisher killed (SIGKILL) and restarted: the collector buffers within its bound, then everything kept is delivered once, with its drops reported', async () => {
  const r = rig();
  const source = new PushSource();
  const c = collector(r, { maxBufferedItems: 400, eventShare: 1 });
  const col = runCollector({
    sensor: source,
    engine: { evaluate: () => [] },
    transport: c,
    forwardTypes: ['process.exec'],
    countersIntervalMs: 0,
  });
  let pub = spawnPublisher(r);
  try {
    await pub.ready;
    for (let i = 0; i < 300; i++) source.push(ev('p4-', i));
    await until(() => c.stats().itemsAcked === 300, 'the first 300 spooled');
    pub.child.kill('SIGKILL');
    await pub.exited;
    for (let i = 300; i < 1300; i++) source.push(ev('p4-', i));
    await until(() => col.stats().events['process.exec'] === 1300, 'the collector saw every event');
    const st = c.stats();
    assert.ok(st.bufferedItems <= 400, `buffer ${st.bufferedItems} within its bound`);
    assert.equal(st.dropped.event, 1000 - 400, 'beyond the bound: counted drops');
    assert.equal(col.stats().droppedEvents, 600);

    pub = spawnPublisher(r);
    await pub.ready;
    assert.equal(await c.flush(60_000), true);
    source.end();
    await col.done; // sends the last counters delta
    assert.equal(await c.flush(60_000), true);
    await srv.waitFor(() => storedEventIds('p4-').length >= 700);
    await srv.waitFor(() => batchesWith('p4-').length > 0 && srv.stored.some((b) => (b.counters?.userDrops ?? 0) > 0));
    assert.deepEqual(
      storedEventIds('p4-'),
      range('p4-', 0, 700),
      'before the kill + what the buffer kept, once, in order',
    );
    const userDrops = srv.stored.reduce((s, b) => s + (b.counters?.userDrops ?? 0), 0);
    assert.equal(userDrops, 600, 'the collector drops were reported to the server');
    const seen = srv.stored.reduce((s, b) => s + (b.counters?.seen['process.exec'] ?? 0), 0);
    assert.ok(seen >= 1300, 'seen counters reported');
  } finally {
    source.end();
    await c.close();
    const exited = pub.exited;
    pub.child.kill('SIGTERM');
    await exited;
    r.cleanup();
  }
});

test('publisher: 401 stops sending with a clear log line, keeps spooling, and resumes when the token changes', async () => {
  const r = rig();
  let token = TOKEN;
  const client = createIngestClient({
    url: srv.url,
    token: () => token,
    caFile: ca.caFile,
    env: {},
    maxAttempts: 2,
    backoffInitialMs: 5,
    backoffMaxMs: 20,
  });
  const pub = await startPublisher(r, { client, authRecheckMs: 20 });
  const c = collector(r);
  srv.token = 'rotated-token';
  try {
    for (let i = 0; i < 300; i++) c.offer({ k: 'event', event: ev('p5-', i) });
    assert.equal(await c.flush(60_000), true);
    await until(() => pub.stats().unauthorized, 'the publisher notices the refused token');
    const line = r.logs.find((l) => l.includes('refused the ingest token'));
    assert.ok(line, 'a clear log line');
    assert.match(line, /401.*sending stopped, spooling continues/);
    assert.ok(!r.logs.join('\n').includes(TOKEN) && !r.logs.join('\n').includes('rotated-token'), 'no token in logs');
    for (let i = 300; i < 400; i++) c.offer({ k: 'event', event: ev('p5-', i) });
    assert.equal(await c.flush(60_000), true, 'still spooling');
    const requests = srv.requests;
    assert.equal(pub.stats().spoolItems, 400, 'the spool keeps everything');
    assert.equal(srv.requests, requests, 'no requests while unauthorized and the token is unchanged');
    token = 'rotated-token';
    await srv.waitFor(() => storedEventIds('p5-').length >= 400);
    assert.deepEqual(storedEventIds('p5-'), range('p5-', 0, 400));
    assert.ok(r.logs.some((l) => l.includes('token changed')));
  } finally {
    srv.token = TOKEN;
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

test('publisher: a 400 batch is dead-lettered and counted, not retried; later batches go on', async () => {
  const r = rig();
  const pub = await startPublisher(r, { batchMaxItems: 10 });
  const c = collector(r);
  try {
    srv.mode = { kind: 'status', status: 400, times: 1 };
    for (let i = 0; i < 10; i++) c.offer({ k: 'event', event: ev('p6-', i) });
    assert.equal(await c.flush(60_000), true);
    await until(() => pub.stats().deadLetteredBatches === 1, 'dead-lettered');
    for (let i = 10; i < 20; i++) c.offer({ k: 'event', event: ev('p6-', i) });
    await srv.waitFor(() => storedEventIds('p6-').length >= 10);
    assert.deepEqual(storedEventIds('p6-'), range('p6-', 10, 20));
    const st = pub.stats();
    assert.equal(st.deadLetteredItems, 10);
    const files = readdirSync(join(r.spoolDir, 'dead-letter'));
    assert.equal(files.length, 1);
    assert.match(files[0] as string, /\.json\.gz$/);
    assert.ok(r.logs.some((l) => /not delivered: batch rejected \(400: test says 400\); kept in/.test(l)));
  } finally {
    srv.mode = { kind: 'ok' };
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

test('publisher: a lost response is retried with the same batchId and the server dedupes it', async () => {
  const r = rig();
  const pub = await startPublisher(r, { batchMaxItems: 50 });
  const c = collector(r);
  try {
    srv.mode = { kind: 'lose-response', times: 1 };
    for (let i = 0; i < 50; i++) c.offer({ k: 'event', event: ev('p7-', i) });
    assert.equal(await c.flush(60_000), true);
    await srv.waitFor(() => storedEventIds('p7-').length >= 50);
    assert.equal(await pub.idle(30_000), true);
    const withP7 = srv.received.filter((x) => x.batch.events.some((e) => e.id.startsWith('p7-')));
    assert.equal(withP7.length, 2, 'sent twice');
    assert.equal(withP7[0]?.batch.batchId, withP7[1]?.batch.batchId, 'same batch id');
    assert.deepEqual(withP7[0]?.batch, withP7[1]?.batch, 'same batch');
    assert.equal(withP7[1]?.accepted, false);
    assert.deepEqual(storedEventIds('p7-'), range('p7-', 0, 50));
    assert.equal(pub.stats().duplicateBatches, 1);
  } finally {
    srv.mode = { kind: 'ok' };
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

test('publisher: restarted with a batch in flight, it resends that batch with the same id', async () => {
  const r = rig();
  await srv.down();
  let up = false;
  let pub = await startPublisher(r, { batchMaxItems: 25 });
  const c = collector(r);
  try {
    for (let i = 0; i < 25; i++) c.offer({ k: 'event', event: ev('p8-', i) });
    assert.equal(await c.flush(60_000), true);
    await until(() => pub.stats().sendFailures >= 1, 'a failed send (the batch is sealed)');
    await pub.stop();
    assert.ok(existsSync(join(r.spoolDir, 'publisher-state.json')));
    await srv.up();
    up = true;
    srv.mode = { kind: 'lose-response', times: 1 };
    pub = await startPublisher(r, { batchMaxItems: 25 });
    await srv.waitFor(() => storedEventIds('p8-').length >= 25);
    assert.equal(await pub.idle(30_000), true);
    const withP8 = srv.received.filter((x) => x.batch.events.some((e) => e.id.startsWith('p8-')));
    assert.equal(new Set(withP8.map((x) => x.batch.batchId)).size, 1, 'one batch id across the restart and the retry');
    assert.deepEqual(storedEventIds('p8-'), range('p8-', 0, 25));
  } finally {
    srv.mode = { kind: 'ok' };
    if (!up) await srv.up();
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

test('publisher: a 413 splits the batch in halves (new ids) until the server takes it', async () => {
  const r = rig();
  const pub = await startPublisher(r, { batchMaxItems: 40, batchMaxWaitMs: 200 });
  const c = collector(r);
  try {
    srv.mode = { kind: 'status', status: 413, times: 1 };
    for (let i = 0; i < 40; i++) c.offer({ k: 'event', event: ev('p9-', i) });
    assert.equal(await c.flush(60_000), true);
    await srv.waitFor(() => storedEventIds('p9-').length >= 40);
    assert.equal(await pub.idle(30_000), true);
    assert.deepEqual(storedEventIds('p9-'), range('p9-', 0, 40));
    assert.equal(pub.stats().splits, 1);
    assert.ok(batchesWith('p9-').length >= 2);
    assert.ok(r.logs.some((l) => /splitting into batches of \d+ items/.test(l)));
  } finally {
    srv.mode = { kind: 'ok' };
    await c.close();
    await pub.stop();
    r.cleanup();
  }
});

test('publisher: a batch size above the server limit is refused with a clear error', async () => {
  const r = rig();
  try {
    await assert.rejects(startPublisher(r, { batchMaxItems: 10_000 }), /batch size 10000 exceeds the server's 5000/);
  } finally {
    r.cleanup();
  }
});
