/**
 * Runtime batches over NATS JetStream, between ingest (which validates, authenticates and
 * publishes) and the detection/storage workers (a durable pull consumer), so ingest scales apart
 * from storage.
 *
 * - The stream is created or brought to this configuration at start (idempotent, any replica).
 * - Each message carries one batch (or one part of a batch larger than the server's
 *   max_payload), gzip-compressed, with the NATS message id `<cluster>:<batchId>[:<part>]`:
 *   JetStream drops a republished batch within its duplicate window, storage dedupe after it.
 * - The consumer acks only after the database commit; a message whose worker died before the ack
 *   is redelivered after `ackWait`, and storing it again changes nothing.
 */
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { PalisadeError, type RuntimeIngestBatch } from '@palisade/core';
import type { IngestCluster } from './auth.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

export const DEFAULT_STREAM = 'PALISADE_RUNTIME';
export const DEFAULT_SUBJECT = 'palisade.runtime.batches';
export const DEFAULT_DURABLE = 'palisade-detect-store';

export interface JetStreamOptions {
  /** nats://host:port (NATS_URL); several separated by commas. */
  url: string;
  stream?: string;
  subject?: string;
  durable?: string;
  /** Redelivery after this long without an ack; default 30 s. */
  ackWaitMs?: number;
  /** Messages older than this are dropped from the stream; default 24 h. */
  maxAgeMs?: number;
  /** Stream size limit; at the limit new batches are refused (the publisher keeps them). Default 1 GiB. */
  maxBytes?: number;
  /** JetStream's dedupe window for message ids; default 10 min. */
  duplicateWindowMs?: number;
  /** Connection name shown by the NATS server. */
  name?: string;
}

/** One message: a batch (or part) with who sent it. */
export interface RuntimeEnvelope extends IngestCluster {
  v: 1;
  receivedAt: string;
  /** 1-based part number and count (1 of 1 for a batch sent whole). */
  part: number;
  parts: number;
  batch: RuntimeIngestBatch;
}

export interface PublishOutcome {
  /** True when JetStream had every part already (a republished batch). */
  duplicate: boolean;
  parts: number;
}

export interface DeliveredMessage {
  envelope: RuntimeEnvelope;
  redelivered: boolean;
}

export interface ConsumerHandle {
  /** Stop pulling; resolves after the message in hand (if any) was handled. */
  stop(): Promise<void>;
}

export interface ConsumeOptions {
  /** Detection + storage of one message; resolve after the commit. A throw naks it for a later retry. */
  handle(m: DeliveredMessage): Promise<void>;
  /** Called with every failure (decode or handle). */
  onError?(err: unknown, m: DeliveredMessage | null): void;
  /**
   * Fault injection (tests): called after `handle`, before the ack; returning false leaves the
   * message unacked, as a worker killed between commit and ack would.
   */
  beforeAck?(m: DeliveredMessage): Promise<boolean>;
  /** Delay of a redelivery after a failed `handle`; default 2 s. */
  retryDelayMs?: number;
}

export interface JetStreamTransport {
  readonly stream: string;
  readonly subject: string;
  readonly maxPayload: number;
  publish(cluster: IngestCluster, batch: RuntimeIngestBatch, receivedAt: string): Promise<PublishOutcome>;
  consume(opts: ConsumeOptions): Promise<ConsumerHandle>;
  /** Messages not yet acked by the durable consumer (pending + ack pending). */
  backlog(): Promise<number>;
  /** Remove the stream (tests with a stream of their own). */
  deleteStream(): Promise<void>;
  close(): Promise<void>;
}

/** Connect, and create or update the stream and the durable consumer. */
export async function openJetStream(opts: JetStreamOptions): Promise<JetStreamTransport> {
  const stream = opts.stream ?? DEFAULT_STREAM;
  const subject = opts.subject ?? DEFAULT_SUBJECT;
  const durable = opts.durable ?? DEFAULT_DURABLE;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.url.split(',').map((s) => s.trim()),
      name: opts.name ?? 'palisade-server',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      timeout: 5000,
    });
  } catch (err) {
    throw new PalisadeError(
      'E_NETWORK',
      `cannot connect to NATS: ${err instanceof Error ? err.message : String(err)}`,
      {
        subject: 'NATS_URL',
        cause: err,
      },
    );
  }
  try {
    const jsm = await nc.jetstreamManager({ timeout: 5000 });
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    await ensureStream(jsm, {
      name: stream,
      subjects: [subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      max_age: nanos(opts.maxAgeMs ?? 86_400_000),
      max_bytes: opts.maxBytes ?? 1024 ** 3,
      max_msg_size: maxPayload,
      duplicate_window: nanos(opts.duplicateWindowMs ?? 600_000),
      num_replicas: 1,
    });
    await ensureConsumer(jsm, stream, durable, opts.ackWaitMs ?? 30_000);
    return transport(nc, nc.jetstream({ timeout: 10_000 }), jsm, { stream, subject, durable, maxPayload });
  } catch (err) {
    await nc.close().catch(() => undefined);
    if (err instanceof PalisadeError) throw err;
    throw new PalisadeError(
      'E_NETWORK',
      `cannot set up the JetStream stream ${stream}: ${err instanceof Error ? err.message : String(err)}`,
      { subject: 'NATS_URL', cause: err },
    );
  }
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  const existing = await jsm.streams.info(cfg.name).catch((err: unknown) => {
    if (isNotFound(err)) return null;
    throw err;
  });
  if (existing === null) {
    try {
      await jsm.streams.add(cfg);
      return;
    } catch (err) {
      // Another replica created it between our look and our add: update it instead.
      if (!/already in use|already exists/i.test(String(err))) throw err;
    }
  }
  // Storage type and retention cannot change on an existing stream; the rest is brought in line.
  const { storage: _s, retention: _r, ...update } = cfg;
  void _s;
  void _r;
  await jsm.streams.update(cfg.name, update);
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  ackWaitMs: number,
): Promise<void> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 256,
    // Retried until stored: a batch is only ever dropped by the stream's age or size limits.
    max_deliver: -1,
  };
  const existing = await jsm.consumers.info(stream, durable).catch((err: unknown) => {
    if (isNotFound(err)) return null;
    throw err;
  });
  if (existing === null) {
    try {
      await jsm.consumers.add(stream, config);
      return;
    } catch (err) {
      if (!/already (in use|exists)/i.test(String(err))) throw err;
    }
  }
  await jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(err instanceof Error ? err.message : String(err));
}

interface Names {
  stream: string;
  subject: string;
  durable: string;
  maxPayload: number;
}

function transport(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, n: Names): JetStreamTransport {
  const consumers = new Set<ConsumerHandle>();
  return {
    stream: n.stream,
    subject: n.subject,
    maxPayload: n.maxPayload,

    async publish(cluster, batch, receivedAt) {
      const parts = await encodeParts(cluster, batch, receivedAt, n.maxPayload);
      let duplicates = 0;
      for (const [i, data] of parts.entries()) {
        const msgID =
          parts.length === 1
            ? `${cluster.clusterId}:${batch.batchId}`
            : `${cluster.clusterId}:${batch.batchId}:${i + 1}/${parts.length}`;
        const ack = await js.publish(n.subject, data, { msgID, expect: { streamName: n.stream } });
        if (ack.duplicate) duplicates++;
      }
      return { duplicate: duplicates === parts.length, parts: parts.length };
    },

    async consume(opts) {
      const consumer = await js.consumers.get(n.stream, n.durable);
      const messages: ConsumerMessages = await consumer.consume({ max_messages: 64, expires: 10_000 });
      const loop = (async () => {
        try {
          for await (const m of messages) await handleOne(m, opts);
        } catch (err) {
          // The connection closed under the iterator (shutdown, or the stream was deleted).
          opts.onError?.(err, null);
        }
      })();
      const handle: ConsumerHandle = {
        async stop() {
          consumers.delete(handle);
          await messages.close();
          await loop;
        },
      };
      consumers.add(handle);
      return handle;
    },

    async backlog() {
      const info = await jsm.consumers.info(n.stream, n.durable);
      return info.num_pending + info.num_ack_pending;
    },

    async deleteStream() {
      await jsm.streams.delete(n.stream);
    },

    async close() {
      for (const c of [...consumers]) await c.stop();
      await nc.drain().catch(() => nc.close());
    },
  };
}

async function handleOne(m: JsMsg, opts: ConsumeOptions): Promise<void> {
  let delivered: DeliveredMessage;
  try {
    delivered = { envelope: await decodeEnvelope(m.data), redelivered: m.redelivered };
  } catch (err) {
    // Not ours or corrupt: retrying cannot help, and it must not block the stream.
    opts.onError?.(err, null);
    m.term('undecodable runtime batch');
    return;
  }
  try {
    await opts.handle(delivered);
  } catch (err) {
    opts.onError?.(err, delivered);
    m.nak(opts.retryDelayMs ?? 2000);
    return;
  }
  if (opts.beforeAck && !(await opts.beforeAck(delivered))) return;
  m.ack();
}

export async function decodeEnvelope(data: Uint8Array): Promise<RuntimeEnvelope> {
  const json = (await gunzip(data)).toString('utf8');
  const v = JSON.parse(json) as Partial<RuntimeEnvelope> | null;
  if (!v || v.v !== 1 || typeof v.clusterId !== 'string' || typeof v.batch !== 'object' || v.batch === null)
    throw new PalisadeError('E_CORRUPT', 'not a runtime batch envelope', { subject: 'NATS message' });
  return v as RuntimeEnvelope;
}

/** Room for the message id and headers inside the server's max_payload. */
const PAYLOAD_HEADROOM = 4096;

/**
 * The batch as one gzip message, or as parts when that is larger than the server takes. The split
 * is a function of the batch alone, so a republished batch gives the same parts and message ids.
 */
async function encodeParts(
  cluster: IngestCluster,
  batch: RuntimeIngestBatch,
  receivedAt: string,
  maxPayload: number,
): Promise<Buffer[]> {
  const room = maxPayload - PAYLOAD_HEADROOM;
  const encode = (b: RuntimeIngestBatch, part: number, parts: number): Promise<Buffer> => {
    const env: RuntimeEnvelope = { v: 1, ...cluster, receivedAt, part, parts, batch: b };
    return gzip(JSON.stringify(env), { level: 1 });
  };
  const whole = await encode(batch, 1, 1);
  if (whole.length <= room) return [whole];
  const items = batch.alerts.length + batch.events.length + (batch.kubeEvents?.length ?? 0);
  for (let parts = Math.max(2, Math.ceil(whole.length / room)); parts <= Math.max(2, items); parts *= 2) {
    const out = await Promise.all(splitBatch(batch, parts).map((b, i) => encode(b, i + 1, parts)));
    if (out.every((b) => b.length <= room)) return out;
  }
  throw new PalisadeError(
    'E_TOO_LARGE',
    `one item of the batch is larger than the NATS server's max_payload (${maxPayload} bytes) even compressed`,
    { subject: `batch ${batch.batchId}` },
  );
}

function splitBatch(batch: RuntimeIngestBatch, parts: number): RuntimeIngestBatch[] {
  const kube = batch.kubeEvents ?? [];
  const items = batch.alerts.length + batch.events.length + kube.length;
  const per = Math.ceil(items / parts);
  const out: RuntimeIngestBatch[] = [];
  for (let i = 0; i < parts; i++) {
    const lo = i * per;
    const hi = Math.min(items, lo + per);
    const take = <T>(arr: readonly T[], offset: number): T[] =>
      arr.slice(Math.max(0, lo - offset), Math.max(0, hi - offset));
    const part: RuntimeIngestBatch = {
      ...batch,
      batchId: `${batch.batchId}:${i + 1}/${parts}`,
      alerts: take(batch.alerts, 0),
      events: take(batch.events, batch.alerts.length),
      kubeEvents: take(kube, batch.alerts.length + batch.events.length),
    };
    // Counters are deltas: added once, with the first part.
    if (i > 0) delete part.counters;
    out.push(part);
  }
  return out;
}
