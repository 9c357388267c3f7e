/**
 * The cluster-level inventory collector (`palisade sensor inventory`, one Deployment per
 * cluster): watches the cluster's core/v1 Events — what no single node sees: scheduling
 * failures, image pull errors, evictions, OOM kills reported by the kubelet — and sends them to
 * the server's runtime ingest endpoint as `inventory` batches of KubeEventRecords.
 *
 * Bounded everywhere: the informer's cache, the queue of records not yet sent (oldest dropped
 * and counted past `maxPending`), the uids remembered for deduplication, the batch size.
 * An Event is forwarded when first seen and again only when it changed (its count or time
 * went up): a relist or a resumed watch replays nothing the server already has.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  INGEST_LIMITS,
  PALISADE_VERSION,
  PalisadeError,
  systemClock,
  type Clock,
  type KubeEventRecord,
  type RuntimeIngestBatch,
} from '@palisade/core';
import { InformerCache, listAndWatch, type KubeClient, type KubeObject } from '@palisade/kube';

export interface InventorySink {
  send(batch: RuntimeIngestBatch): Promise<unknown>;
}

export interface InventoryOptions {
  client: KubeClient;
  sink: InventorySink;
  clock?: Clock;
  /** The collector's pod name, sent as the batch's `node` (default $POD_NAME, else the hostname). */
  node?: string;
  /** Watch Events of this namespace only (default: every namespace). */
  namespace?: string;
  /** Records per batch (default 500, at most INGEST_LIMITS.maxItems). */
  batchMaxItems?: number;
  /** Send what is queued at least this often (default 5 s). */
  flushIntervalMs?: number;
  /** Records queued while the server is unreachable; the oldest are dropped past it (default 10 000). */
  maxPending?: number;
  /** Event uids remembered for deduplication (default 50 000). */
  maxRemembered?: number;
  /** Events the informer keeps (default 10 000). */
  maxCached?: number;
  /** Server-side watch length (default 300 s). */
  watchTimeoutSeconds?: number;
  /** Backoff of the informer's reconnects (default 1 s, doubled up to 30 s). */
  backoffMs?: number;
  /** Consecutive failed lists/watches before the collector stops with an error (default 10). */
  maxFailures?: number;
  signal?: AbortSignal;
  /** Batch ids (default random UUIDs). */
  batchId?: () => string;
  log?: (line: string) => void;
}

export interface InventoryStats {
  /** Event objects seen (lists and watch events). */
  received: number;
  /** Seen again unchanged: not forwarded. */
  duplicates: number;
  /** Records the sink accepted. */
  sent: number;
  batches: number;
  /** Records dropped because the queue was full. */
  dropped: number;
  sendErrors: number;
  /** Informer reconnects (dropped watch, 410 relist, …). */
  retries: number;
}

const LIMITS = { reason: 256, type: 64, namespace: 253, kind: 64, name: 253, message: 4096 } as const;

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(o: Record<string, unknown>, key: string, max: number): string {
  const v = o[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

function isoTime(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * A core/v1 (or events.k8s.io/v1) Event as the server stores it; undefined for an object
 * without a uid (never from a real API server).
 */
export function kubeEventRecord(e: KubeObject, now: Date): KubeEventRecord | undefined {
  const meta = obj(e['metadata']);
  const uid = typeof meta['uid'] === 'string' ? meta['uid'] : '';
  if (uid === '') return undefined;
  const involved = obj(e['involvedObject'] ?? e['regarding']);
  const series = obj(e['series']);
  const count = typeof e['count'] === 'number' ? e['count'] : typeof series['count'] === 'number' ? series['count'] : 1;
  const time =
    isoTime(series['lastObservedTime']) ??
    isoTime(e['lastTimestamp']) ??
    isoTime(e['eventTime']) ??
    isoTime(e['firstTimestamp']) ??
    isoTime(meta['creationTimestamp']) ??
    now.toISOString();
  return {
    uid: uid.slice(0, 256),
    time,
    type: str(e, 'type', LIMITS.type) || 'Normal',
    reason: str(e, 'reason', LIMITS.reason),
    message: str(e, 'message', LIMITS.message) || str(e, 'note', LIMITS.message),
    namespace: str(meta, 'namespace', LIMITS.namespace) || str(involved, 'namespace', LIMITS.namespace),
    involved: {
      kind: str(involved, 'kind', LIMITS.kind),
      name: str(involved, 'name', LIMITS.name),
      namespace: str(involved, 'namespace', LIMITS.namespace),
    },
    count: Math.max(0, Math.floor(count)),
  };
}

/** The queue of records to send and what was already sent, both bounded. */
class Outbox {
  readonly pending: KubeEventRecord[] = [];
  /** uid → `count|time` last queued: what makes a repeat a duplicate. */
  private readonly last = new Map<string, string>();

  constructor(
    private readonly maxPending: number,
    private readonly maxRemembered: number,
    private readonly stats: InventoryStats,
  ) {}

  offer(r: KubeEventRecord): void {
    const version = `${r.count}|${r.time}`;
    if (this.last.get(r.uid) === version) {
      this.stats.duplicates++;
      return;
    }
    this.last.delete(r.uid); // re-inserted last: the least recently changed are forgotten first
    this.last.set(r.uid, version);
    if (this.last.size > this.maxRemembered) this.last.delete(this.last.keys().next().value as string);
    this.pending.push(r);
    if (this.pending.length > this.maxPending) {
      const over = this.pending.length - this.maxPending;
      this.pending.splice(0, over);
      this.stats.dropped += over;
    }
  }

  /** Put records whose send failed back in front (still bounded). */
  requeue(records: KubeEventRecord[]): void {
    this.pending.unshift(...records);
    if (this.pending.length > this.maxPending) {
      const over = this.pending.length - this.maxPending;
      this.pending.splice(0, over);
      this.stats.dropped += over;
    }
  }
}

/**
 * Watch Events and send them until `signal` aborts (then flush what is queued and resolve with
 * the counters). Rejects when the cluster cannot be read: a credential refused (E_AUTH), or
 * more than `maxFailures` failed lists/watches in a row.
 */
export async function runInventoryCollector(opts: InventoryOptions): Promise<InventoryStats> {
  const clock = opts.clock ?? systemClock;
  const batchMax = Math.max(1, Math.min(INGEST_LIMITS.maxItems, opts.batchMaxItems ?? 500));
  const node = opts.node ?? process.env['POD_NAME'] ?? hostname();
  const nextId = opts.batchId ?? randomUUID;
  const log = opts.log ?? ((): void => undefined);
  const stats: InventoryStats = {
    received: 0,
    duplicates: 0,
    sent: 0,
    batches: 0,
    dropped: 0,
    sendErrors: 0,
    retries: 0,
  };
  const outbox = new Outbox(opts.maxPending ?? 10_000, opts.maxRemembered ?? 50_000, stats);

  let sending: Promise<void> | undefined;
  const sendQueued = async (all: boolean): Promise<void> => {
    while (outbox.pending.length >= (all ? 1 : batchMax)) {
      const records = outbox.pending.splice(0, batchMax);
      const batch: RuntimeIngestBatch = {
        batchId: nextId(),
        source: 'inventory',
        node,
        sensorVersion: PALISADE_VERSION,
        sentAt: clock.now().toISOString(),
        alerts: [],
        events: [],
        kubeEvents: records,
      };
      try {
        await opts.sink.send(batch);
        stats.sent += records.length;
        stats.batches++;
      } catch (err) {
        // Kept for the next flush; the sink (the ingest client) has already retried.
        stats.sendErrors++;
        outbox.requeue(records);
        log(`inventory: send failed: ${err instanceof PalisadeError ? err.describe() : String(err)}`);
        return;
      }
    }
  };
  // One send at a time: the timer and the watch loop share the queue.
  const flush = (all: boolean): Promise<void> => {
    sending = (sending ?? Promise.resolve()).then(() => sendQueued(all));
    return sending;
  };
  const timer = setInterval(() => void flush(true), opts.flushIntervalMs ?? 5000);

  const cache = new InformerCache(opts.maxCached ?? 10_000);
  const offer = (o: KubeObject): void => {
    stats.received++;
    const r = kubeEventRecord(o, clock.now());
    if (r !== undefined) outbox.offer(r);
  };
  try {
    for await (const e of listAndWatch(
      opts.client,
      'Event',
      {
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.watchTimeoutSeconds !== undefined ? { timeoutSeconds: opts.watchTimeoutSeconds } : {}),
        ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
        maxFailures: opts.maxFailures ?? 10,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onRetry: (err, attempt) => {
          stats.retries++;
          log(`inventory: watch interrupted (attempt ${attempt}): ${err.describe()}`);
        },
      },
      cache,
    )) {
      if (e.type === 'SYNC') e.objects.forEach(offer);
      else if (e.type !== 'DELETED') offer(e.object); // an expired Event says nothing new
      if (outbox.pending.length >= batchMax) await flush(false);
    }
  } finally {
    clearInterval(timer);
    await flush(true);
  }
  return stats;
}
