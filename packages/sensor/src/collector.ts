/**
 * The collector: sensor events → (optional enrichment) → rule engine → alerts (with the events
 * that matched) and, for event types chosen by configuration, the raw events → the transport
 * to the node's publisher. Counter deltas (kernel seen/drops by type, user-space drops) go
 * along periodically, so the server can sum what every node saw and lost.
 *
 * Everything is bounded: the sensor's queue and ring buffer in front (drop-newest, counted),
 * the transport's buffer behind (drop-newest with headroom for alerts, counted). The loop
 * awaits only enrichment, so a stalled publisher never stalls event intake: it only fills the
 * transport's bounded buffer.
 */
import type { Alert, RuntimeEvent, SensorCounterDelta } from '@palisade/core';
import type { SensorCounters } from './pipeline.js';
import { labelledMetric, singleMetric, type MetricFamily } from './metrics.js';
import type { TransportItem } from './transport.js';

/** Where events come from: a `Sensor`, or anything with the same shape (tests, replays). */
export interface CollectorSource {
  events(): AsyncIterable<RuntimeEvent>;
  /** Cumulative counters (the Sensor's); without them `seen` counts the events received. */
  counters?(): SensorCounters;
}

/**
 * What the collector needs of the rule engine (a `RuleEngine` fits). A promise is awaited
 * (e.g. a drift stage that registers containers with the enforcer); plain arrays cost no await.
 */
export interface CollectorEngine {
  evaluate(ev: RuntimeEvent): Alert[] | Promise<Alert[]>;
}

/** Where items go: a `TransportClient` fits. */
export interface CollectorSink {
  offer(item: Exclude<TransportItem, { k: 'counters' }>): boolean;
  addCounters(delta: SensorCounterDelta): void;
  /** Items the sink refused so far (reported as user-space drops). */
  droppedItems(): number;
  bufferedItems?(): number;
  bufferedBytes?(): number;
}

export interface CollectorOptions {
  sensor: CollectorSource;
  engine: CollectorEngine;
  transport: CollectorSink;
  /** Adds context to an event (container name/image, pod); errors keep the event as it was. */
  enrich?: (ev: RuntimeEvent) => RuntimeEvent | Promise<RuntimeEvent>;
  /** Raw event types forwarded to the server besides alerts (default: none). */
  forwardTypes?: readonly string[];
  /** Period of counter deltas (default 10 s; 0 = only at the end). */
  countersIntervalMs?: number;
  /** Called for every alert (e.g. to log it). */
  onAlert?: (a: Alert) => void;
  log?: (line: string) => void;
}

export interface CollectorStats {
  events: Record<string, number>;
  alerts: number;
  alertsByRule: Record<string, number>;
  forwarded: number;
  /** Items the transport refused (buffer full), by kind. */
  droppedAlerts: number;
  droppedEvents: number;
  enrichErrors: number;
  engineErrors: number;
}

export interface Collector {
  /** Resolves when the source ends (after a last counters delta); never rejects. */
  readonly done: Promise<CollectorStats>;
  /** Hands over an alert raised outside the event loop (drift stop records), counted like the others. */
  offerAlert(a: Alert): void;
  stats(): CollectorStats;
  metrics(): MetricFamily[];
}

interface Totals {
  seen: Record<string, number>;
  kernelDrops: number;
  userDrops: number;
}

export function runCollector(opts: CollectorOptions): Collector {
  const forward = new Set(opts.forwardTypes ?? []);
  const s: CollectorStats = {
    events: {},
    alerts: 0,
    alertsByRule: {},
    forwarded: 0,
    droppedAlerts: 0,
    droppedEvents: 0,
    enrichErrors: 0,
    engineErrors: 0,
  };
  let reported: Totals = { seen: {}, kernelDrops: 0, userDrops: 0 };
  let enrichErrorLogged = false;

  const totals = (): Totals => {
    const c = opts.sensor.counters?.();
    const seen: Record<string, number> = {};
    let kernelDrops = 0;
    let sensorUserDrops = 0;
    if (c) {
      for (const [t, k] of Object.entries(c.byType)) {
        seen[t] = k.seen;
        kernelDrops += k.droppedInKernel;
        sensorUserDrops += k.droppedInUserspace;
      }
    } else Object.assign(seen, s.events);
    return { seen, kernelDrops, userDrops: sensorUserDrops + opts.transport.droppedItems() };
  };

  /** Hands the growth of the counters since the last report to the transport. */
  const reportCounters = (): void => {
    const now = totals();
    const seen: Record<string, number> = {};
    let any = false;
    for (const t of Object.keys(now.seen).sort()) {
      const d = (now.seen[t] ?? 0) - (reported.seen[t] ?? 0);
      if (d > 0) {
        seen[t] = d;
        any = true;
      }
    }
    const delta: SensorCounterDelta = {
      seen,
      kernelDrops: Math.max(0, now.kernelDrops - reported.kernelDrops),
      userDrops: Math.max(0, now.userDrops - reported.userDrops),
      spoolDrops: 0,
    };
    if (any || delta.kernelDrops > 0 || delta.userDrops > 0) opts.transport.addCounters(delta);
    reported = now;
  };

  const offer = (item: Exclude<TransportItem, { k: 'counters' }>): void => {
    if (opts.transport.offer(item)) return;
    if (item.k === 'alert') s.droppedAlerts++;
    else s.droppedEvents++;
  };

  const offerAlert = (a: Alert): void => {
    s.alerts++;
    s.alertsByRule[a.ruleId] = (s.alertsByRule[a.ruleId] ?? 0) + 1;
    opts.onAlert?.(a);
    offer({ k: 'alert', alert: a });
  };

  const handle = async (raw: RuntimeEvent): Promise<void> => {
    let ev = raw;
    if (opts.enrich) {
      try {
        ev = await opts.enrich(raw);
      } catch (err) {
        s.enrichErrors++;
        if (!enrichErrorLogged) {
          enrichErrorLogged = true;
          opts.log?.(
            `collector: enrichment failed, events go on without it: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
    }
    s.events[ev.type] = (s.events[ev.type] ?? 0) + 1;
    let alerts: Alert[] = [];
    try {
      const r = opts.engine.evaluate(ev);
      alerts = Array.isArray(r) ? r : await r;
    } catch {
      // The engine counts condition errors per rule; an exception here is a bug, not a reason to stop.
      s.engineErrors++;
    }
    for (const a of alerts) offerAlert(a);
    if (forward.has(ev.type)) {
      s.forwarded++;
      offer({ k: 'event', event: ev });
    }
  };

  const snapshot = (): CollectorStats => ({
    ...s,
    events: { ...s.events },
    alertsByRule: { ...s.alertsByRule },
  });

  const interval = opts.countersIntervalMs ?? 10_000;
  const timer = interval > 0 ? setInterval(reportCounters, interval) : undefined;

  const done = (async (): Promise<CollectorStats> => {
    try {
      for await (const ev of opts.sensor.events()) await handle(ev);
    } catch (err) {
      opts.log?.(`collector: the event source failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (timer) clearInterval(timer);
      reportCounters();
    }
    return snapshot();
  })();

  const metrics = (): MetricFamily[] => {
    const t = totals();
    const p = 'palisade_collector_';
    const out: MetricFamily[] = [
      labelledMetric(`${p}events_total`, 'Events evaluated, by type.', 'counter', 'type', s.events),
      labelledMetric(
        `${p}kernel_events_seen_total`,
        'Events the kernel hooks saw, by type.',
        'counter',
        'type',
        t.seen,
      ),
      singleMetric(
        `${p}kernel_drops_total`,
        'Records the kernel ring buffer could not take.',
        'counter',
        t.kernelDrops,
      ),
      singleMetric(
        `${p}user_drops_total`,
        'Events and items dropped in user space (queues and buffer full).',
        'counter',
        t.userDrops,
      ),
      singleMetric(`${p}alerts_total`, 'Alerts raised.', 'counter', s.alerts),
      labelledMetric(`${p}alerts_by_rule_total`, 'Alerts raised, by rule.', 'counter', 'rule', s.alertsByRule),
      singleMetric(`${p}forwarded_events_total`, 'Raw events handed to the publisher.', 'counter', s.forwarded),
      labelledMetric(
        `${p}buffer_drops_total`,
        'Items refused by the publisher buffer (full), by kind.',
        'counter',
        'kind',
        {
          alert: s.droppedAlerts,
          event: s.droppedEvents,
        },
      ),
      singleMetric(`${p}enrich_errors_total`, 'Events whose enrichment failed.', 'counter', s.enrichErrors),
    ];
    if (opts.transport.bufferedItems)
      out.push(
        singleMetric(`${p}buffer_items`, 'Items waiting for the publisher.', 'gauge', opts.transport.bufferedItems()),
      );
    if (opts.transport.bufferedBytes)
      out.push(
        singleMetric(`${p}buffer_bytes`, 'Bytes waiting for the publisher.', 'gauge', opts.transport.bufferedBytes()),
      );
    return out;
  };

  return { done, stats: snapshot, metrics, offerAlert };
}
