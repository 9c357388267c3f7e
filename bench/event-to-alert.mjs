// bench event-to-alert: from a forwarded runtime event to its alert visible in the server API.
// Target: p99 <= 1 s.
//
// A `palisade server` is started in this process (embedded storage in bench/.work/event-to-alert;
// with --nats, NATS_URL (default nats://127.0.0.1:4222) and a JetStream stream of its own,
// deleted at the end). A cluster is registered, and its ingest token posts batches of forwarded
// events at a steady rate for a bounded time, like a node's publisher: each batch holds
// recorded events of the rule library that raise nothing (copies with fresh ids) and one that
// raises an alert (an interactive shell in a container, fx-001, with a fresh id): one alert per batch. The alert's
// server id is known in advance (stableId('alert', cluster, stableId(rule, event))), and one
// poller reads GET /api/v1/alerts?ruleId=… (newest first) every --poll-ms; latency is from the
// start of the POST to the poll that first shows the alert.
//
//   node bench/event-to-alert.mjs [--nats] [--rate BATCHES_PER_S] [--events N] [--seconds S] [--poll-ms MS]
// Prints figures; never asserts.
import { rmSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { root, work } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const NATS = args.includes('--nats');
const RATE = Number(arg('rate', 10));
const EVENTS = Number(arg('events', 200));
const SECONDS = Number(arg('seconds', 20));
const POLL_MS = Number(arg('poll-ms', 10));
// Newest first: enough to cover the alerts of the batches posted between two polls.
const POLL_LIMIT = Math.max(10, Math.ceil((RATE * Math.max(POLL_MS, 50)) / 1000) * 4);
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ADMIN = `bench-admin-${randomBytes(16).toString('hex')}`;
const RULE = 'PAL-RT-001';

const { startServer, loadConfig } = await import('../packages/server/dist/src/index.js');
const { stableId } = await import('../packages/core/dist/src/index.js');

const fixtures = readFileSync(join(root, 'packages/rules/test/fixtures/builtin-events.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l));
// Recorded events that raise no alert at all (a fixture that does not fire its own rule may fire another).
const { builtinRuleSources, RuleEngine } = await import('../packages/rules/dist/src/index.js');
const { engine } = RuleEngine.fromSources(builtinRuleSources());
const quiet = fixtures.map((f) => f.event).filter((e) => e.type !== 'k8s.audit' && engine.evaluate(e).length === 0);
const marker = fixtures.find((f) => f.event.id === 'fx-001').event;

const dataDir = join(work, 'event-to-alert');
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true });
const tag = randomBytes(4).toString('hex');
const stream = `PALISADE_RUNTIME_BENCH_${tag}`;
const env = { ...process.env, PALISADE_ADMIN_TOKEN: ADMIN, ...(NATS ? { NATS_URL } : {}) };
if (!NATS) delete env.NATS_URL;
const config = loadConfig({ env, flags: { port: '0', dataDir, host: '127.0.0.1' } });
const server = await startServer(config, {
  env,
  logStream: false,
  consoleDir: null,
  scheduler: undefined,
  ...(NATS ? { runtime: { nats: { stream, subject: `palisade.bench.${tag}.batches` } } } : {}),
});
const { cluster, ingestToken } = await server.storage.clusters.create({ name: 'bench' });

const sent = new Map(); // alert id -> send time
const latencies = [];
let batches = 0;
let failed = 0;
let seq = 0;

function makeBatch(n) {
  const events = [];
  const now = new Date().toISOString();
  for (let i = 0; i < EVENTS - 1; i++) {
    const q = quiet[(seq + i) % quiet.length];
    events.push({ ...q, id: `q-${tag}-${seq}-${i}`, time: now });
  }
  const id = `m-${tag}-${n}`;
  events.push({ ...marker, id, time: now });
  seq += EVENTS;
  return {
    alertId: stableId('alert', cluster.id, stableId(RULE, id)),
    body: JSON.stringify({
      batchId: `b-${tag}-${n}`,
      source: 'collector',
      node: 'bench-node',
      sensorVersion: 'bench',
      sentAt: now,
      alerts: [],
      events,
    }),
  };
}

async function send(n) {
  const b = makeBatch(n);
  const t0 = performance.now();
  sent.set(b.alertId, t0);
  const r = await fetch(`${server.url}/api/v1/ingest/runtime`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' },
    body: b.body,
  });
  await r.arrayBuffer();
  if (r.status !== 200 && r.status !== 202) {
    failed++;
    sent.delete(b.alertId);
  }
  batches++;
}

let polling = true;
async function poll() {
  while (polling) {
    const r = await fetch(`${server.url}/api/v1/alerts?ruleId=${RULE}&limit=${POLL_LIMIT}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const now = performance.now();
    const { items } = await r.json();
    for (const a of items) {
      const t0 = sent.get(a.id);
      if (t0 !== undefined) {
        latencies.push(now - t0);
        sent.delete(a.id);
      }
    }
    await sleep(POLL_MS);
  }
}

const poller = poll();
const inflight = new Set();
const start = performance.now();
const total = Math.round(RATE * SECONDS);
for (let n = 0; n < total; n++) {
  const due = start + (n * 1000) / RATE;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  const p = send(n).catch(() => {
    failed++;
  });
  inflight.add(p);
  void p.finally(() => inflight.delete(p));
}
await Promise.all(inflight);
// Let the last alerts land (bounded).
const drainUntil = performance.now() + 10_000;
while (sent.size > 0 && performance.now() < drainUntil) await sleep(20);
polling = false;
await poller;
const elapsed = (performance.now() - start) / 1000;
await server.close();
if (NATS) {
  const { connect } = await import('nats');
  const nc = await connect({ servers: NATS_URL });
  await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
  await nc.close();
}
rmSync(dataDir, { recursive: true, force: true });

const sorted = [...latencies].sort((a, b) => a - b);
const q = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);
const ms = (v) => `${v.toFixed(0)} ms`;
console.log(
  `event-to-alert (${NATS ? 'NATS JetStream' : 'in-process'}, embedded storage): ${batches} batches of ${EVENTS} events ` +
    `at ${RATE}/s (${Math.round((batches * EVENTS) / elapsed)} events/s) for ${elapsed.toFixed(1)} s`,
);
console.log(
  `  alert visible: p50 ${ms(q(0.5))}  p95 ${ms(q(0.95))}  p99 ${ms(q(0.99))}  max ${ms(sorted[sorted.length - 1] ?? NaN)}` +
    `  (target p99 <= 1000 ms)  seen ${latencies.length}, never seen ${sent.size}, failed posts ${failed}`,
);
