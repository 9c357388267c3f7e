import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert, RuntimeEvent, SensorCounterDelta } from '@palisade/core';
import { RuleEngine, builtinRuleSources } from '@palisade/rules';
import { repoRoot } from '@palisade/testkit';
import { runCollector, type CollectorSink, type CollectorSource } from '../src/collector.js';
import type { SensorCounters } from '../src/pipeline.js';
import { addCounterDeltas, emptyCounterDelta, type TransportItem } from '../src/transport.js';
import { renderMetrics } from '../src/metrics.js';
import { execEvent, until } from './publisher-testkit.test.js';

interface Fixture {
  rule: string;
  fires: boolean;
  event: RuntimeEvent;
}

function fixtures(): Fixture[] {
  const file = join(repoRoot(), 'packages', 'rules', 'test', 'fixtures', 'builtin-events.jsonl');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Fixture);
}

function source(events: RuntimeEvent[], counters?: () => SensorCounters): CollectorSource {
  return {
    events: async function* () {
      for (const e of events) yield e;
    },
    ...(counters ? { counters } : {}),
  };
}

/** A sink that keeps what it gets, refusing beyond `capacity` items. */
class RecordingSink implements CollectorSink {
  items: Exclude<TransportItem, { k: 'counters' }>[] = [];
  counters: SensorCounterDelta[] = [];
  refused = 0;
  constructor(private readonly capacity = Infinity) {}
  offer(item: Exclude<TransportItem, { k: 'counters' }>): boolean {
    if (this.items.length >= this.capacity) {
      this.refused++;
      return false;
    }
    this.items.push(item);
    return true;
  }
  addCounters(delta: SensorCounterDelta): void {
    this.counters.push(delta);
  }
  droppedItems(): number {
    return this.refused;
  }
  bufferedItems(): number {
    return this.items.length;
  }
  total(): SensorCounterDelta {
    return this.counters.reduce(addCounterDeltas, emptyCounterDelta());
  }
}

test('collector: the built-in rules raise the same alerts as the engine alone, each with its matched event', async () => {
  const fx = fixtures().filter((f) => f.event.type !== 'k8s.audit');
  const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
  assert.deepEqual(errors, []);
  const reference = RuleEngine.fromSources(builtinRuleSources()).engine;
  const expected: Alert[] = fx.flatMap((f) => reference.evaluate(f.event));
  const sink = new RecordingSink();
  const seen: Alert[] = [];
  const col = runCollector({
    sensor: source(fx.map((f) => f.event)),
    engine,
    transport: sink,
    countersIntervalMs: 0,
    onAlert: (a) => seen.push(a),
  });
  const st = await col.done;
  const alerts = sink.items.flatMap((i) => (i.k === 'alert' ? [i.alert] : []));
  assert.ok(expected.length > 20, 'the fixtures fire many rules');
  assert.deepEqual(
    alerts.map((a) => a.id),
    expected.map((a) => a.id),
  );
  assert.deepEqual(seen, alerts);
  for (const f of fx.filter((x) => x.fires))
    assert.ok(
      alerts.some((a) => a.ruleId === f.rule && a.events.some((e) => e.id === f.event.id)),
      `${f.rule} fired on ${f.event.id}`,
    );
  assert.equal(sink.items.filter((i) => i.k === 'event').length, 0, 'no raw events without a forward filter');
  assert.equal(st.alerts, expected.length);
  // Without sensor counters, `seen` counts the events the collector got.
  assert.equal(
    Object.values(sink.total().seen).reduce((a, b) => a + b, 0),
    fx.length,
  );
});

test('collector: raw events of the forwarded types only; enrichment applies (async too); a failing enrichment keeps the event', async () => {
  const events: RuntimeEvent[] = [
    execEvent(1),
    { ...execEvent(2), type: 'process.exit', exit: { code: 0, signal: 0 } },
    execEvent(3),
  ];
  const sink = new RecordingSink();
  const logs: string[] = [];
  let calls = 0;
  const col = runCollector({
    sensor: source(events),
    engine: { evaluate: () => [] },
    transport: sink,
    forwardTypes: ['process.exec'],
    countersIntervalMs: 0,
    log: (l) => logs.push(l),
    enrich: async (e) => {
      calls++;
      if (e.id === 'ev-3') throw new Error('runtime socket gone');
      await Promise.resolve();
      return { ...e, node: 'enriched' };
    },
  });
  const st = await col.done;
  assert.equal(calls, 3);
  const fwd = sink.items.flatMap((i) => (i.k === 'event' ? [i.event] : []));
  assert.deepEqual(
    fwd.map((e) => [e.id, e.node]),
    [
      ['ev-1', 'enriched'],
      ['ev-3', 'node-a'],
    ],
  );
  assert.equal(st.enrichErrors, 1);
  assert.equal(st.forwarded, 2);
  assert.equal(logs.filter((l) => l.includes('runtime socket gone')).length, 1);
});

test('collector: counter deltas carry kernel seen/drops and every user-space drop exactly once', async () => {
  let kernel = { seen: 10, droppedInKernel: 2, droppedInUserspace: 1 };
  const counters = (): SensorCounters => {
    const row = {
      seen: kernel.seen,
      filteredInKernel: 0,
      droppedInKernel: kernel.droppedInKernel,
      decoded: 0,
      droppedInUserspace: kernel.droppedInUserspace,
    };
    const zero = { seen: 0, filteredInKernel: 0, droppedInKernel: 0, decoded: 0, droppedInUserspace: 0 };
    return {
      byType: { 'process.exec': row, 'network.connect': { ...zero }, 'process.exit': { ...zero } },
      frames: 0,
      decodeErrors: 0,
      loaderRecordsOut: 0,
      queued: 0,
    } as SensorCounters;
  };
  const sink = new RecordingSink(2);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const events = Array.from({ length: 5 }, (_, i) => execEvent(i));
  const src: CollectorSource = {
    events: async function* () {
      yield* events.slice(0, 3);
      await gate;
      yield* events.slice(3);
    },
    counters,
  };
  const col = runCollector({
    sensor: src,
    engine: { evaluate: () => [] },
    transport: sink,
    forwardTypes: ['process.exec'],
    countersIntervalMs: 5,
  });
  await until(() => sink.counters.length > 0, 'a first counters delta');
  kernel = { seen: 25, droppedInKernel: 4, droppedInUserspace: 3 };
  release();
  await col.done;
  const total = sink.total();
  assert.deepEqual(total.seen, { 'process.exec': 25 });
  assert.equal(total.kernelDrops, 4);
  // 3 from the sensor's queue + 3 the sink refused (capacity 2, 5 events forwarded).
  assert.equal(total.userDrops, 6);
  assert.equal(total.spoolDrops, 0);
  assert.equal(col.stats().droppedEvents, 3);
  const text = renderMetrics(col.metrics());
  assert.match(text, /^palisade_collector_events_total\{type="process.exec"\} 5$/m);
  assert.match(text, /^palisade_collector_kernel_drops_total 4$/m);
  assert.match(text, /^palisade_collector_user_drops_total 6$/m);
  assert.match(text, /^palisade_collector_buffer_drops_total\{kind="event"\} 3$/m);
  assert.match(text, /^palisade_collector_buffer_items 2$/m);
});

test('collector: a source that throws ends the collector with a log line, not a crash', async () => {
  const logs: string[] = [];
  const sink = new RecordingSink();
  const col = runCollector({
    sensor: {
      events: async function* () {
        yield execEvent(1);
        throw new Error('loader died');
      },
    },
    engine: { evaluate: () => [] },
    transport: sink,
    countersIntervalMs: 0,
    log: (l) => logs.push(l),
  });
  const st = await col.done;
  assert.equal(st.events['process.exec'], 1);
  assert.ok(logs.some((l) => l.includes('loader died')));
  assert.equal(sink.counters.length, 1, 'final counters still reported');
});
