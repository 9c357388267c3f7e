/**
 * The runtime pipeline: from an accepted ingest batch to stored alerts.
 *
 * Without NATS, `submit` runs detection and storage in the request (the answer comes after the
 * commit). With NATS (`NATS_URL`), `submit` publishes to JetStream and answers after the
 * publish ack; the consumer started by `start()` (in this process, or in worker-only replicas)
 * runs the same `process` per message and acks after the commit.
 *
 * Detection here is the server's share: the rule engine over the raw events a node forwarded.
 * Its alerts are merged with the node's own by alert id (stableId(rule, event)), so a rule that
 * fired on both sides is stored once.
 *
 * Before detection, events whose node could not resolve their Kubernetes context get it from the
 * container records of the cluster's inventory collector (container-context.ts: one query per
 * batch), so server-side rules, the alert columns and grouping all see it.
 */
import {
  PalisadeError,
  type Alert,
  type Clock,
  type RuntimeIngestBatch,
  type RuntimeIngestResult,
} from '@palisade/core';
import type { RuleEngine } from '@palisade/rules';
import type { Storage } from '../storage/index.js';
import type { IngestCluster } from './auth.js';
import { fillContainerContext } from './container-context.js';
import { openJetStream, type ConsumerHandle, type JetStreamOptions, type JetStreamTransport } from './nats.js';
import {
  createIngestRateLimiter,
  DEFAULT_INGEST_RATE_LIMIT,
  type Admission,
  type IngestRateLimitOptions,
} from './rate-limit.js';

export interface RuntimeObserver {
  /** One batch through ingest or storage: `stored`, `duplicate`, `queued`, `failed`, `dead_lettered`. */
  observeRuntimeBatch(outcome: string, alertsStored: number): void;
}

export interface RuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface NatsPipelineOptions extends JetStreamOptions {
  /** Run the detection/storage consumer in this process (default true; false for ingest-only replicas). */
  consume?: boolean;
  /** Fault injection for tests (see ConsumeOptions.beforeAck). */
  beforeAck?: (batchId: string) => Promise<boolean>;
  /** First redelivery delay of a failed message (doubled per delivery); default 2 s. */
  retryDelayMs?: number;
  /** First delay before a consume loop that ended is restarted; default 1 s. */
  restartDelayMs?: number;
}

export interface RuntimePipelineOptions {
  storage: Storage;
  engine: RuleEngine;
  clock: Clock;
  nats?: NatsPipelineOptions;
  groupWindowMs?: number;
  /** Nodes kept per cluster in the sensor counters (default 5,000); one more is refused with 400. */
  maxNodesPerCluster?: number;
  /** Per-cluster ingest rate limit, in memory per replica; null: none. Default DEFAULT_INGEST_RATE_LIMIT. */
  rateLimit?: IngestRateLimitOptions | null;
  observer?: RuntimeObserver;
  logger?: RuntimeLogger;
}

export interface IngestOutcome {
  batchId: string;
  /** False when the batch had been accepted before. */
  accepted: boolean;
  /** True when the batch is on the queue (NATS) rather than already stored. */
  queued: boolean;
  /** New alerts stored (null while queued). */
  alerts: number | null;
  events: number;
  /** Alerts already known (null while queued). */
  duplicates: number | null;
}

export interface RuntimeStats {
  /** Batches stored by this process (direct, or consumed from JetStream). */
  processed: number;
  duplicates: number;
  redelivered: number;
  failed: number;
  /** Messages given up by this process's consumer (published on the dead-letter subject). */
  deadLettered: number;
  alerts: number;
  /** Events whose Kubernetes context came from the inventory's container records. */
  contextFilled: number;
}

export interface RuntimePipeline {
  readonly mode: 'direct' | 'nats';
  /** Connect to NATS and start the consumer (no-op without NATS); `logger` replaces the one given at creation. */
  start(logger?: RuntimeLogger): Promise<void>;
  /** May this cluster send a batch now (its rate limit)? Costs nothing; ask before reading the body. */
  admit(clusterId: string): Admission;
  /** What an admitted batch cost against its cluster's rate limit. */
  charge(clusterId: string, items: number, bytes: number): void;
  /** Take a validated batch: store it now, or queue it; resolves when it is durable. */
  submit(cluster: IngestCluster, batch: RuntimeIngestBatch): Promise<IngestOutcome>;
  /** Detection and storage of one batch. */
  process(clusterId: string, batch: RuntimeIngestBatch): Promise<RuntimeIngestResult>;
  /** The server's rule engine over the batch's forwarded events. */
  detect(batch: RuntimeIngestBatch): Alert[];
  stats(): RuntimeStats;
  /** The JetStream transport once started (null without NATS). */
  transport(): JetStreamTransport | null;
  close(): Promise<void>;
}

export function createRuntimePipeline(opts: RuntimePipelineOptions): RuntimePipeline {
  const { storage, engine, observer } = opts;
  let logger = opts.logger;
  const stats: RuntimeStats = {
    processed: 0,
    duplicates: 0,
    redelivered: 0,
    failed: 0,
    deadLettered: 0,
    alerts: 0,
    contextFilled: 0,
  };
  let js: JetStreamTransport | null = null;
  let consumer: ConsumerHandle | null = null;
  const limiter =
    opts.rateLimit === null ? null : createIngestRateLimiter(opts.rateLimit ?? DEFAULT_INGEST_RATE_LIMIT, opts.clock);

  const detect = (batch: RuntimeIngestBatch): Alert[] => {
    const out: Alert[] = [];
    for (const ev of batch.events) for (const a of engine.evaluate(ev)) out.push(a);
    return out;
  };

  const processBatch = async (clusterId: string, received: RuntimeIngestBatch): Promise<RuntimeIngestResult> => {
    const context = await fillContainerContext(storage.alerts, clusterId, received);
    const batch = context.batch;
    const detected = detect(batch);
    const result = await storage.alerts.ingest({
      clusterId,
      batch,
      detected,
      ...(opts.groupWindowMs !== undefined ? { groupWindowMs: opts.groupWindowMs } : {}),
      ...(opts.maxNodesPerCluster !== undefined ? { maxNodesPerCluster: opts.maxNodesPerCluster } : {}),
    });
    stats.processed++;
    stats.alerts += result.alerts;
    if (result.accepted) stats.contextFilled += context.filled;
    else stats.duplicates++;
    observer?.observeRuntimeBatch(result.accepted ? 'stored' : 'duplicate', result.alerts);
    return result;
  };

  return {
    mode: opts.nats ? 'nats' : 'direct',

    async start(log) {
      if (log) logger = log;
      const n = opts.nats;
      if (!n || js) return;
      js = await openJetStream(n);
      if (n.consume === false) return;
      consumer = await js.consume({
        handle: async ({ envelope, redelivered }) => {
          if (redelivered) stats.redelivered++;
          // The message names its cluster; anyone who can publish on the subject could name any.
          if ((await storage.clusters.get(envelope.clusterId)) === null)
            throw new PalisadeError('E_NOT_FOUND', 'no such cluster (deleted, or never registered here)', {
              subject: `clusterId ${envelope.clusterId}`,
            });
          await processBatch(envelope.clusterId, envelope.batch);
        },
        onError: (err, m) => {
          stats.failed++;
          observer?.observeRuntimeBatch('failed', 0);
          logger?.error(
            { batchId: m?.envelope.batch.batchId, clusterId: m?.envelope.clusterId, err: describe(err) },
            m ? 'runtime batch not stored' : 'runtime consumer failed; it restarts',
          );
        },
        onDeadLetter: (d) => {
          stats.deadLettered++;
          observer?.observeRuntimeBatch('dead_lettered', 0);
          logger?.warn(
            {
              batchId: d.envelope?.batch.batchId,
              clusterId: d.envelope?.clusterId,
              deliveries: d.deliveryCount,
              streamSequence: d.streamSequence,
              deadSubject: js?.deadSubject,
              reason: d.reason,
            },
            'runtime batch dead-lettered',
          );
        },
        ...(n.beforeAck
          ? { beforeAck: (m) => (n.beforeAck as (id: string) => Promise<boolean>)(m.envelope.batch.batchId) }
          : {}),
        ...(n.retryDelayMs !== undefined ? { retryDelayMs: n.retryDelayMs } : {}),
        ...(n.restartDelayMs !== undefined ? { restartDelayMs: n.restartDelayMs } : {}),
      });
      logger?.info({ stream: js.stream, subject: js.subject }, 'runtime consumer started');
    },

    admit: (clusterId) => (limiter ? limiter.admit(clusterId) : { admitted: true }),

    charge(clusterId, items, bytes) {
      limiter?.charge(clusterId, items, bytes);
    },

    async submit(cluster, batch) {
      if (!opts.nats) {
        const r = await processBatch(cluster.clusterId, batch);
        return { ...r, queued: false };
      }
      if (!js) throw new Error('runtime pipeline: start() was not called');
      const published = await js.publish(cluster, batch, opts.clock.now().toISOString());
      observer?.observeRuntimeBatch(published.duplicate ? 'duplicate' : 'queued', 0);
      return {
        batchId: batch.batchId,
        accepted: !published.duplicate,
        queued: true,
        alerts: null,
        events: batch.events.length,
        duplicates: null,
      };
    },

    process: processBatch,
    detect,
    stats: () => ({ ...stats }),
    transport: () => js,

    async close() {
      const c = consumer;
      consumer = null;
      await c?.stop();
      const t = js;
      js = null;
      await t?.close();
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof PalisadeError) return err.describe();
  return err instanceof Error ? err.message : String(err);
}
