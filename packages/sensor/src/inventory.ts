/**
 * The cluster-level inventory collector (`palisade sensor inventory`, one Deployment per
 * cluster). It sends the server's runtime ingest endpoint, as `inventory` batches, what no single
 * node sees:
 *
 * - the cluster's core/v1 Events (scheduling failures, image pull errors, evictions, OOM kills
 *   reported by the kubelet) as KubeEventRecords;
 * - the containers of the cluster's Pods as KubeContainerRecords (pod, namespace, node,
 *   workload, service account, image and digest), which the server uses to fill in the
 *   Kubernetes context of alerts from nodes whose collector could not read it (it has no API
 *   access; containerd's state files lack the workload and often the digest). Pods, ReplicaSets
 *   and Jobs are listed and watched (inventory-containers.ts resolves owners); a (re)list sends
 *   every record (a full resync, plus `deleted` records for containers gone meanwhile), a watch
 *   event sends what changed, and every `resyncIntervalMs` every record is sent again so the
 *   server's last-seen times stay fresh.
 *
 * Bounded everywhere: the informers keep compact summaries, not objects (pods, owners: capped),
 * the queue of records not yet sent (oldest dropped and counted past `maxPending`), the uids
 * remembered for deduplication, the batch size. An Event is forwarded when first seen and again
 * only when it changed (its count or time went up): a relist or a resumed watch replays nothing
 * the server already has. A refused Pod, ReplicaSet or Job read (403: an older ClusterRole)
 * turns that part off with a log line; a refused Event read stops the collector.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  INGEST_LIMITS,
  PALISADE_VERSION,
  PalisadeError,
  systemClock,
  type Clock,
  type KubeContainerRecord,
  type KubeEventRecord,
  type RuntimeIngestBatch,
} from '@palisade/core';
import {
  InformerCache,
  listAndWatch,
  type InformerEvent,
  type KubeClient,
  type KubeObject,
  type ListAndWatchOptions,
} from '@palisade/kube';
import { OwnerIndex, PodIndex, podSummary, type PodSummary } from './inventory-containers.js';

export interface InventorySink {
  send(batch: RuntimeIngestBatch): Promise<unknown>;
}

export interface InventoryOptions {
  client: KubeClient;
  sink: InventorySink;
  clock?: Clock;
  /** The collector's pod name, sent as the batch's `node` (default $POD_NAME, else the hostname). */
  node?: string;
  /** Watch this namespace only (Events, Pods, ReplicaSets, Jobs; default: every namespace). */
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
  /** Watch Pods, ReplicaSets and Jobs and send container records (default true). */
  containers?: boolean;
  /** Pods kept in the container index (default 20 000); past it the least recently changed are forgotten. */
  maxPods?: number;
  /** ReplicaSets and Jobs remembered to resolve owners (default 50 000 each). */
  maxOwners?: number;
  /** Send every container record again this often (default 1 h; 0: never). */
  resyncIntervalMs?: number;
  /** Longest wait for the first list of ReplicaSets and Jobs before Pods are listed (default 30 s). */
  ownerSyncTimeoutMs?: number;
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
  /** Kubernetes event records the sink accepted. */
  sent: number;
  /** Container records the sink accepted (deleted ones included). */
  containersSent: number;
  /** Pods in the container index now. */
  pods: number;
  /** Pods forgotten because the index was full (maxPods), and owners because theirs was (maxOwners). */
  podsEvicted: number;
  ownersEvicted: number;
  /** Resources whose read was refused (403) and whose part is therefore off (`pods`, `replicasets`, `jobs`). */
  refused: string[];
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

type Outgoing = { kind: 'event'; record: KubeEventRecord } | { kind: 'container'; record: KubeContainerRecord };

/** The queue of records to send and the Events already sent, both bounded. */
class Outbox {
  readonly pending: Outgoing[] = [];
  /** uid → `count|time` last queued: what makes a repeat a duplicate. */
  private readonly last = new Map<string, string>();

  constructor(
    private readonly maxPending: number,
    private readonly maxRemembered: number,
    private readonly stats: InventoryStats,
  ) {}

  offerEvent(r: KubeEventRecord): void {
    const version = `${r.count}|${r.time}`;
    if (this.last.get(r.uid) === version) {
      this.stats.duplicates++;
      return;
    }
    this.last.delete(r.uid); // re-inserted last: the least recently changed are forgotten first
    this.last.set(r.uid, version);
    if (this.last.size > this.maxRemembered) this.last.delete(this.last.keys().next().value as string);
    this.pending.push({ kind: 'event', record: r });
    this.bound();
  }

  /** Container records are deduplicated by the PodIndex that makes them. */
  offerContainer(r: KubeContainerRecord): void {
    this.pending.push({ kind: 'container', record: r });
    this.bound();
  }

  /** Put records whose send failed back in front (still bounded). */
  requeue(items: Outgoing[]): void {
    this.pending.unshift(...items);
    this.bound();
  }

  private bound(): void {
    if (this.pending.length > this.maxPending) {
      const over = this.pending.length - this.maxPending;
      this.pending.splice(0, over);
      this.stats.dropped += over;
    }
  }
}

/**
 * The informer cache of the kinds the collector summarises itself (Pods, ReplicaSets, Jobs):
 * it keeps no object — a Pod is kilobytes, its summary in PodIndex a few hundred bytes. Its
 * limit still bounds one list (listAndWatch accepts at most ten times it).
 */
class SummaryOnlyCache extends InformerCache {
  override replace(): void {}
  override put(): void {}
  override remove(): void {}
}

/** Resolves after `ms`, or at once when `signal` aborts or `done` settles. */
function waitAtMost(done: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
    if (signal.aborted) finish();
    void done.then(finish);
  });
}

/**
 * Hand each event of an informer to `handle`, and drop it before waiting for the next: a
 * `for await` loop's variable stays reachable from the suspended async frame until the next
 * event arrives, which for a SYNC of every Pod means the whole list (tens of MB in a large
 * cluster) for as long as the watch is quiet.
 */
async function consume(
  events: AsyncGenerator<InformerEvent>,
  handle: (e: InformerEvent) => Promise<void>,
): Promise<void> {
  try {
    for (;;) {
      let next: IteratorResult<InformerEvent> | undefined = await events.next();
      if (next.done === true) return;
      let event: InformerEvent | undefined = next.value;
      next = undefined;
      await handle(event);
      event = undefined;
    }
  } finally {
    await events.return(undefined);
  }
}

/** True for a refused read (403) or a resource the cluster does not serve (404): that part is turned off. */
function isRefusal(err: unknown): boolean {
  if (!(err instanceof PalisadeError)) return false;
  return err.code === 'E_NOT_FOUND' || (err.code === 'E_AUTH' && /\b403\b/.test(err.message));
}

/**
 * Watch Events (and Pods, ReplicaSets and Jobs unless `containers: false`) and send them until
 * `signal` aborts (then flush what is queued and resolve with the counters). Rejects when the
 * cluster cannot be read: a credential refused (E_AUTH; Events refused, or any 401), or more
 * than `maxFailures` failed lists/watches in a row of any kind.
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
    containersSent: 0,
    pods: 0,
    podsEvicted: 0,
    ownersEvicted: 0,
    refused: [],
    batches: 0,
    dropped: 0,
    sendErrors: 0,
    retries: 0,
  };
  const outbox = new Outbox(opts.maxPending ?? 10_000, opts.maxRemembered ?? 50_000, stats);

  let sending: Promise<void> = Promise.resolve();
  let flushesQueued = 0;
  /** The last send failed: the watch loops stop waiting for the server, the timer retries. */
  let sinkFailing = false;
  const sendQueued = async (all: boolean): Promise<void> => {
    while (outbox.pending.length >= (all ? 1 : batchMax)) {
      const items = outbox.pending.splice(0, batchMax);
      const kubeEvents: KubeEventRecord[] = [];
      const containers: KubeContainerRecord[] = [];
      for (const i of items) {
        if (i.kind === 'event') kubeEvents.push(i.record);
        else containers.push(i.record);
      }
      const batch: RuntimeIngestBatch = {
        batchId: nextId(),
        source: 'inventory',
        node,
        sensorVersion: PALISADE_VERSION,
        sentAt: clock.now().toISOString(),
        alerts: [],
        events: [],
        ...(kubeEvents.length > 0 ? { kubeEvents } : {}),
        ...(containers.length > 0 ? { containers } : {}),
      };
      try {
        await opts.sink.send(batch);
        stats.sent += kubeEvents.length;
        stats.containersSent += containers.length;
        stats.batches++;
        sinkFailing = false;
      } catch (err) {
        // Kept for the next flush; the sink (the ingest client) has already retried.
        stats.sendErrors++;
        sinkFailing = true;
        outbox.requeue(items);
        log(`inventory: send failed: ${err instanceof PalisadeError ? err.describe() : String(err)}`);
        return;
      }
    }
  };
  // One send at a time: the timers and the watch loops share the queue.
  const flush = (all: boolean): Promise<void> => {
    flushesQueued++;
    sending = sending.then(() => sendQueued(all)).finally(() => flushesQueued--);
    return sending;
  };
  const abort = new AbortController();
  /**
   * Send full batches before queueing more: the watch loops wait while the server is slow
   * (back-pressure). Not while it fails (each wait would be the sink's whole retry budget, per
   * record) nor once stopping: records then queue up to maxPending and the timer retries.
   */
  const pump = async (): Promise<void> => {
    if (outbox.pending.length >= batchMax && !sinkFailing && !abort.signal.aborted) await flush(false);
  };
  // A tick while a send is still going adds nothing: the queue of flushes stays short.
  const timer = setInterval(() => {
    if (flushesQueued === 0) void flush(true);
  }, opts.flushIntervalMs ?? 5000);

  const stopAll = (): void => abort.abort();
  opts.signal?.addEventListener('abort', stopAll, { once: true });
  if (opts.signal?.aborted) abort.abort();
  const watchOptions = (resource: string): ListAndWatchOptions => ({
    ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
    ...(opts.watchTimeoutSeconds !== undefined ? { timeoutSeconds: opts.watchTimeoutSeconds } : {}),
    ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
    maxFailures: opts.maxFailures ?? 10,
    signal: abort.signal,
    onRetry: (err, attempt) => {
      stats.retries++;
      log(`inventory: ${resource} watch interrupted (attempt ${attempt}): ${err.describe()}`);
    },
  });

  const watchEvents = async (): Promise<void> => {
    const cache = new InformerCache(opts.maxCached ?? 10_000);
    const offer = (o: KubeObject): void => {
      stats.received++;
      const r = kubeEventRecord(o, clock.now());
      if (r !== undefined) outbox.offerEvent(r);
    };
    await consume(listAndWatch(opts.client, 'Event', watchOptions('events'), cache), async (e) => {
      if (e.type === 'SYNC') e.objects.forEach(offer);
      else if (e.type !== 'DELETED') offer(e.object); // an expired Event says nothing new
      await pump();
    });
  };

  const loops: Array<Promise<void>> = [];
  let fatal: Error | undefined;
  const guard = (p: Promise<void>): Promise<void> =>
    p.catch((err: unknown) => {
      fatal ??= err instanceof Error ? err : new PalisadeError('E_INTERNAL', String(err), { subject: 'inventory' });
      abort.abort(); // one part failing for good stops the others
    });
  loops.push(guard(watchEvents()));
  const context = opts.containers === false ? undefined : containerContext(opts, stats, watchOptions, abort.signal);
  let resyncTimer: NodeJS.Timeout | undefined;
  if (context) {
    const offerContainers = async (records: readonly KubeContainerRecord[]): Promise<void> => {
      // Queued a batch at a time: a full resync of a large cluster must not overflow maxPending.
      for (const r of records) {
        outbox.offerContainer(r);
        await pump();
      }
    };
    loops.push(...context.start(offerContainers).map(guard));
    const every = opts.resyncIntervalMs ?? 3_600_000;
    if (every > 0) resyncTimer = setInterval(() => void context.resync(offerContainers), every);
  }
  try {
    await Promise.all(loops);
  } finally {
    clearInterval(timer);
    if (resyncTimer) clearInterval(resyncTimer);
    opts.signal?.removeEventListener('abort', stopAll);
    context?.updateStats();
    await flush(true);
  }
  if (fatal !== undefined) throw fatal;
  return stats;
}

interface ContainerContext {
  /** The watch loops of ReplicaSets, Jobs and Pods. */
  start(offer: (records: readonly KubeContainerRecord[]) => Promise<void>): Array<Promise<void>>;
  /** Send every current record again (skipped while one is running). */
  resync(offer: (records: readonly KubeContainerRecord[]) => Promise<void>): Promise<void>;
  updateStats(): void;
}

/** Pods (with their owners) → container records: the indexes and the three watch loops that fill them. */
function containerContext(
  opts: InventoryOptions,
  stats: InventoryStats,
  watchOptions: (resource: string) => ListAndWatchOptions,
  signal: AbortSignal,
): ContainerContext {
  const log = opts.log ?? ((): void => undefined);
  const maxOwners = opts.maxOwners ?? 50_000;
  const replicaSets = new OwnerIndex(maxOwners);
  const jobs = new OwnerIndex(maxOwners);
  const pods = new PodIndex(opts.maxPods ?? 20_000, replicaSets, jobs);
  const updateStats = (): void => {
    stats.pods = pods.size;
    stats.podsEvicted = pods.evicted;
    stats.ownersEvicted = replicaSets.evicted + jobs.evicted;
  };
  // Pods are listed once the owners are (or after a bounded wait): their first records then
  // name the Deployment or CronJob rather than a ReplicaSet or Job corrected a moment later.
  let ownersPending = 2;
  let ownersSynced: () => void = () => undefined;
  const ownersReady = new Promise<void>((resolve) => (ownersSynced = resolve));
  const ownerSynced = (): void => {
    if (--ownersPending === 0) ownersSynced();
  };
  const refused = (err: unknown, resource: string): boolean => {
    if (!isRefusal(err)) return false;
    stats.refused.push(resource);
    log(
      `inventory: reading ${resource} was refused, container context ${resource === 'pods' ? 'is off' : `resolves ${resource} owners by name only`}: ${err instanceof PalisadeError ? err.describe() : String(err)}`,
    );
    return true;
  };

  const watchOwners = async (
    kind: 'ReplicaSet' | 'Job',
    resource: string,
    index: OwnerIndex,
    offer: (records: readonly KubeContainerRecord[]) => Promise<void>,
  ): Promise<void> => {
    let synced = false;
    const markSynced = (): void => {
      if (!synced) ownerSynced();
      synced = true;
    };
    try {
      await consume(
        listAndWatch(opts.client, kind, watchOptions(resource), new SummaryOnlyCache(maxOwners)),
        async (e) => {
          if (e.type === 'SYNC') {
            index.replace(e.objects);
            markSynced();
            await offer(pods.reresolve());
          } else if (e.type === 'DELETED') index.remove(e.object);
          else {
            const changed = index.put(e.object);
            if (changed !== undefined) await offer(pods.reresolve(changed));
          }
        },
      );
    } catch (err) {
      if (!refused(err, resource)) throw err;
    } finally {
      markSynced();
    }
  };

  const watchPods = async (offer: (records: readonly KubeContainerRecord[]) => Promise<void>): Promise<void> => {
    await waitAtMost(ownersReady, opts.ownerSyncTimeoutMs ?? 30_000, signal);
    try {
      await consume(
        listAndWatch(opts.client, 'Pod', watchOptions('pods'), new SummaryOnlyCache(opts.maxPods ?? 20_000)),
        async (e) => {
          if (e.type === 'SYNC') {
            const listed = e.objects.map(podSummary).filter((s): s is PodSummary => s !== undefined);
            await offer(pods.replace(listed));
          } else {
            const s = podSummary(e.object);
            if (s !== undefined) await offer(e.type === 'DELETED' ? pods.remove(s.uid) : pods.update(s));
          }
          updateStats();
        },
      );
    } catch (err) {
      if (!refused(err, 'pods')) throw err;
    }
  };

  let resyncing = false;
  return {
    start: (offer) => [
      watchOwners('ReplicaSet', 'replicasets', replicaSets, offer),
      watchOwners('Job', 'jobs', jobs, offer),
      watchPods(offer),
    ],
    async resync(offer) {
      if (resyncing) return;
      resyncing = true;
      try {
        await offer(pods.all());
      } finally {
        resyncing = false;
      }
    },
    updateStats,
  };
}
