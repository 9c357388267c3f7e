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
 * - A message is distrusted as much as an HTTP body: anyone who can publish on the subject can
 *   put one there. It is inflated to at most INGEST_LIMITS.maxBytes (plus the envelope), and the
 *   envelope and its batch are checked again with the ingest checks.
 * - A message that cannot succeed (undecodable, invalid, refused by the database, unknown
 *   cluster) is dead-lettered at once; one that keeps failing otherwise is retried with a growing
 *   delay, at most `maxDeliver` times, then dead-lettered: published on the dead-letter subject
 *   (`palisade.runtime.dead`, with the reason in headers) and terminated, so poison messages
 *   never pile up in front of the consumer's max_ack_pending.
 * - The consume loop restarts itself (with a growing delay) when the iterator ends while the
 *   consumer was not stopped: a deleted consumer, a lost connection, a server restart.
 */
import { readFileSync } from 'node:fs';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AckPolicy,
  connect,
  credsAuthenticator,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConnectionOptions,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { INGEST_LIMITS, PalisadeError, type RuntimeIngestBatch } from '@palisade/core';
import type { IngestCluster } from './auth.js';
import { validateIngestBatch } from './validate.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

export const DEFAULT_STREAM = 'PALISADE_RUNTIME';
export const DEFAULT_SUBJECT = 'palisade.runtime.batches';
export const DEFAULT_DURABLE = 'palisade-detect-store';
export const DEFAULT_DEAD_SUBJECT = 'palisade.runtime.dead';
/** Deliveries of one message before it is dead-lettered. */
export const DEFAULT_MAX_DELIVER = 10;
/** Room for the envelope's own fields around a batch of INGEST_LIMITS.maxBytes. */
const ENVELOPE_HEADROOM = 64 * 1024;
/** Largest inflated message taken from the stream. */
export const MAX_ENVELOPE_BYTES = INGEST_LIMITS.maxBytes + ENVELOPE_HEADROOM;
/** Longest delay between two deliveries of a failing message, and between two consume-loop restarts. */
const MAX_RETRY_DELAY_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;

export interface JetStreamOptions {
  /**
   * nats://host:port (NATS_URL); several separated by commas. `nats://user:password@host:port`
   * logs in with a user and password, `nats://token@host:port` with a token (the same
   * credentials on every server of the list).
   */
  url: string;
  /** A NATS credentials file (user JWT + NKEY seed, as `nsc` writes it) instead of URL credentials. */
  credsFile?: string;
  stream?: string;
  subject?: string;
  durable?: string;
  /** Where dead-lettered messages are published (core NATS; give it a stream to keep them). */
  deadSubject?: string;
  /** Deliveries of a message before it is dead-lettered; default 10. */
  maxDeliver?: number;
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
  /** 1 on the first delivery. */
  deliveryCount: number;
}

export interface DeadLetter {
  /** One line: why the message was given up. */
  reason: string;
  /** The envelope, when the message could be decoded. */
  envelope: RuntimeEnvelope | null;
  deliveryCount: number;
  streamSequence: number;
}

export interface ConsumerHandle {
  /** Stop pulling; resolves after the message in hand (if any) was handled. */
  stop(): Promise<void>;
}

export interface ConsumeOptions {
  /**
   * Detection + storage of one message; resolve after the commit. A throw is retried later,
   * unless it is permanent (see isPermanentFailure) or the message was delivered maxDeliver times:
   * then the message is dead-lettered.
   */
  handle(m: DeliveredMessage): Promise<void>;
  /** Called with every failure (decode, handle, or the consume loop itself when `m` is null). */
  onError?(err: unknown, m: DeliveredMessage | null): void;
  /** Called once per message given up (after it was published on the dead-letter subject). */
  onDeadLetter?(d: DeadLetter): void;
  /**
   * Fault injection (tests): called after `handle`, before the ack; returning false leaves the
   * message unacked, as a worker killed between commit and ack would.
   */
  beforeAck?(m: DeliveredMessage): Promise<boolean>;
  /** Delay of the first redelivery after a failed `handle`, doubled per delivery (at most 60 s); default 2 s. */
  retryDelayMs?: number;
  /** First delay before the consume loop is restarted, doubled per failed restart (at most 30 s); default 1 s. */
  restartDelayMs?: number;
}

export interface JetStreamTransport {
  readonly stream: string;
  readonly subject: string;
  readonly deadSubject: string;
  readonly maxDeliver: number;
  readonly maxPayload: number;
  publish(cluster: IngestCluster, batch: RuntimeIngestBatch, receivedAt: string): Promise<PublishOutcome>;
  consume(opts: ConsumeOptions): Promise<ConsumerHandle>;
  /** Messages not yet acked by the durable consumer (pending + ack pending). */
  backlog(): Promise<number>;
  /** Remove the stream (tests with a stream of their own). */
  deleteStream(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Failures retrying cannot fix: the message or its batch is wrong (or names a cluster this
 * server does not know), or the database refuses its values.
 */
export function isPermanentFailure(err: unknown): boolean {
  return (
    err instanceof PalisadeError &&
    ['E_INPUT', 'E_TOO_LARGE', 'E_CORRUPT', 'E_UNSUPPORTED', 'E_NOT_FOUND'].includes(err.code)
  );
}

/** The servers of NATS_URL without credentials, and the credentials they carried. */
export function natsConnectOptions(
  url: string,
  credsFile?: string,
): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token' | 'authenticator'> {
  const servers: string[] = [];
  const found = new Set<string>();
  let auth: { user: string; pass?: string } | null = null;
  for (const raw of url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!raw.includes('://')) {
      servers.push(raw);
      continue;
    }
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      // Never echo the value: it may carry a password.
      throw new PalisadeError('E_CONFIG', 'not a nats:// URL', { subject: 'NATS_URL' });
    }
    if (u.username !== '') {
      const user = decodeURIComponent(u.username);
      const pass = u.password === '' ? undefined : decodeURIComponent(u.password);
      found.add(`${user}\u0000${pass ?? ''}`);
      auth = pass === undefined ? { user } : { user, pass };
      u.username = '';
      u.password = '';
    }
    servers.push(u.toString().replace(/\/$/, ''));
  }
  if (found.size > 1)
    throw new PalisadeError('E_CONFIG', 'the servers carry different credentials: give the same to all', {
      subject: 'NATS_URL',
    });
  if (auth && credsFile !== undefined)
    throw new PalisadeError('E_CONFIG', 'give credentials in NATS_URL or a credentials file, not both', {
      subject: 'NATS_URL',
    });
  const out: Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token' | 'authenticator'> = { servers };
  if (credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(credsFile);
    } catch (err) {
      throw new PalisadeError('E_CONFIG', 'cannot read the NATS credentials file', { subject: credsFile, cause: err });
    }
    out.authenticator = credsAuthenticator(creds);
  } else if (auth?.pass !== undefined) {
    out.user = auth.user;
    out.pass = auth.pass;
  } else if (auth) {
    // `nats://<token>@host`: the NATS convention for token authentication.
    out.token = auth.user;
  }
  return out;
}

/** Connect, and create or update the stream and the durable consumer. */
export async function openJetStream(opts: JetStreamOptions): Promise<JetStreamTransport> {
  const stream = opts.stream ?? DEFAULT_STREAM;
  const subject = opts.subject ?? DEFAULT_SUBJECT;
  const durable = opts.durable ?? DEFAULT_DURABLE;
  const deadSubject = opts.deadSubject ?? DEFAULT_DEAD_SUBJECT;
  const maxDeliver = opts.maxDeliver ?? DEFAULT_MAX_DELIVER;
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1 || maxDeliver > 1000)
    throw new PalisadeError('E_CONFIG', `must be an integer 1-1000, not ${maxDeliver}`, { subject: 'maxDeliver' });
  if (deadSubject === subject)
    throw new PalisadeError('E_CONFIG', 'must differ from the batches subject', { subject: 'deadSubject' });
  const auth = natsConnectOptions(opts.url, opts.credsFile);
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...auth,
      name: opts.name ?? 'palisade-server',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      timeout: 5000,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new PalisadeError(
      /authoriz|authenticat|permission/i.test(msg) ? 'E_AUTH' : 'E_NETWORK',
      `cannot connect to NATS: ${msg}`,
      { subject: 'NATS_URL', cause: err },
    );
  }
  try {
    const jsm = await nc.jetstreamManager({ timeout: 5000 });
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    const streamConfig: Partial<StreamConfig> & { name: string } = {
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
    };
    const consumerConfig = { durable, ackWaitMs: opts.ackWaitMs ?? 30_000, maxDeliver };
    const ensure = async (): Promise<void> => {
      await ensureStream(jsm, streamConfig);
      await ensureConsumer(jsm, stream, consumerConfig);
    };
    await ensure();
    return transport(nc, nc.jetstream({ timeout: 10_000 }), jsm, {
      stream,
      subject,
      durable,
      deadSubject,
      maxDeliver,
      maxPayload,
      ensure,
    });
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
  c: { durable: string; ackWaitMs: number; maxDeliver: number },
): Promise<void> {
  const config = {
    durable_name: c.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(c.ackWaitMs),
    // Poison messages are dead-lettered long before this many are held by one consumer.
    max_ack_pending: 256,
    // Finite: a message that keeps failing is dead-lettered by the consumer on its last delivery.
    max_deliver: c.maxDeliver,
  };
  const existing = await jsm.consumers.info(stream, c.durable).catch((err: unknown) => {
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
  await jsm.consumers.update(stream, c.durable, {
    ack_wait: config.ack_wait,
    max_ack_pending: config.max_ack_pending,
    max_deliver: config.max_deliver,
  });
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(err instanceof Error ? err.message : String(err));
}

interface Names {
  stream: string;
  subject: string;
  durable: string;
  deadSubject: string;
  maxDeliver: number;
  maxPayload: number;
  /** Create or update the stream and the consumer again (a restart after either was deleted). */
  ensure(): Promise<void>;
}

function transport(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, n: Names): JetStreamTransport {
  const consumers = new Set<ConsumerHandle>();
  return {
    stream: n.stream,
    subject: n.subject,
    deadSubject: n.deadSubject,
    maxDeliver: n.maxDeliver,
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
      const handle = superviseConsumer(nc, js, n, opts, () => consumers.delete(handle));
      consumers.add(handle);
      return Promise.resolve(handle);
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

/**
 * The consume loop, restarted when the message iterator ends or fails while not stopped (the
 * consumer or stream was deleted, the connection was lost): the stream and consumer are ensured
 * again and pulling resumes, after a delay that doubles per failed restart.
 */
function superviseConsumer(
  nc: NatsConnection,
  js: JetStreamClient,
  n: Names,
  opts: ConsumeOptions,
  onStopped: () => void,
): ConsumerHandle {
  let stopped = false;
  let current: ConsumerMessages | null = null;
  const wake = new AbortController();
  const firstDelay = opts.restartDelayMs ?? 1000;
  const loop = (async () => {
    let delay = firstDelay;
    for (let round = 0; !stopped; round++) {
      try {
        if (round > 0) await n.ensure();
        const consumer = await js.consumers.get(n.stream, n.durable);
        // Without abort_on_missing_resource the iterator waits forever on a deleted consumer or
        // stream; with it, it ends, and this loop ensures both again.
        const messages = await consumer.consume({ max_messages: 64, expires: 10_000, abort_on_missing_resource: true });
        current = messages;
        if (stopped) break;
        for await (const m of messages) {
          await handleOne(nc, n, m, opts);
          delay = firstDelay;
        }
        if (stopped) break;
        opts.onError?.(
          new PalisadeError('E_NETWORK', 'the JetStream consumer stopped delivering; restarting it', {
            subject: `${n.stream}/${n.durable}`,
          }),
          null,
        );
      } catch (err) {
        if (stopped) break;
        // The connection closed under the iterator, or the consumer/stream is gone.
        opts.onError?.(err, null);
      } finally {
        current = null;
      }
      await sleep(delay, undefined, { signal: wake.signal }).catch(() => undefined);
      delay = Math.min(MAX_RESTART_DELAY_MS, delay * 2);
    }
  })();
  return {
    async stop() {
      stopped = true;
      onStopped();
      wake.abort();
      await current?.close();
      await loop;
    },
  };
}

async function handleOne(nc: NatsConnection, n: Names, m: JsMsg, opts: ConsumeOptions): Promise<void> {
  const deliveryCount = m.info.deliveryCount;
  let delivered: DeliveredMessage;
  try {
    delivered = { envelope: await decodeEnvelope(m.data), redelivered: m.redelivered, deliveryCount };
  } catch (err) {
    // Not ours, corrupt or hostile: retrying cannot help, and it must not block the stream.
    opts.onError?.(err, null);
    deadLetter(nc, n, m, err, null, opts);
    return;
  }
  try {
    await opts.handle(delivered);
  } catch (err) {
    opts.onError?.(err, delivered);
    if (isPermanentFailure(err) || deliveryCount >= n.maxDeliver) {
      deadLetter(nc, n, m, err, delivered.envelope, opts);
      return;
    }
    const base = opts.retryDelayMs ?? 2000;
    m.nak(Math.min(MAX_RETRY_DELAY_MS, base * 2 ** Math.min(16, deliveryCount - 1)));
    return;
  }
  if (opts.beforeAck && !(await opts.beforeAck(delivered))) return;
  m.ack();
}

/** A header value from untrusted text: one line of printable ASCII, bounded. */
function headerSafe(s: string, max = 512): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

function describeFailure(err: unknown): string {
  if (err instanceof PalisadeError) return err.describe();
  return err instanceof Error ? err.message : String(err);
}

/** Publish the message on the dead-letter subject with why, then terminate it (no more deliveries). */
function deadLetter(
  nc: NatsConnection,
  n: Names,
  m: JsMsg,
  err: unknown,
  envelope: RuntimeEnvelope | null,
  opts: ConsumeOptions,
): void {
  const reason = headerSafe(describeFailure(err));
  const h = natsHeaders();
  h.set('Palisade-Reason', reason);
  h.set('Palisade-Stream', headerSafe(n.stream));
  h.set('Palisade-Stream-Seq', String(m.info.streamSequence));
  h.set('Palisade-Deliveries', String(m.info.deliveryCount));
  if (envelope) {
    h.set('Palisade-Cluster', headerSafe(envelope.clusterId, 128));
    h.set('Palisade-Batch', headerSafe(envelope.batch.batchId, 160));
  }
  try {
    nc.publish(n.deadSubject, m.data, { headers: h });
  } catch (e) {
    // Over max_payload with the headers: the reason alone is still worth publishing.
    try {
      h.set('Palisade-Dropped-Body', headerSafe(describeFailure(e), 128));
      nc.publish(n.deadSubject, new Uint8Array(0), { headers: h });
    } catch {
      // The connection is gone: the message is still terminated below, and counted.
    }
  }
  m.term();
  opts.onDeadLetter?.({
    reason,
    envelope,
    deliveryCount: m.info.deliveryCount,
    streamSequence: m.info.streamSequence,
  });
}

function corrupt(message: string, cause?: unknown): PalisadeError {
  return new PalisadeError('E_CORRUPT', message, { subject: 'NATS message', ...(cause ? { cause } : {}) });
}

/**
 * A message back into an envelope, checked as strictly as an HTTP body: inflated to at most
 * `maxBytes`, the envelope's fields checked, and its batch through validateIngestBatch (a part's
 * id `<batchId>:<i>/<n>` is checked as the batch id it was split from).
 */
export async function decodeEnvelope(data: Uint8Array, maxBytes = MAX_ENVELOPE_BYTES): Promise<RuntimeEnvelope> {
  let inflated: Buffer;
  try {
    inflated = await gunzip(data, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new PalisadeError('E_TOO_LARGE', `larger than ${maxBytes} bytes once decompressed`, {
        subject: 'NATS message',
      });
    throw corrupt('not gzip', err);
  }
  let v: unknown;
  try {
    v = JSON.parse(inflated.toString('utf8'));
  } catch (err) {
    throw corrupt('not JSON', err);
  }
  return checkEnvelope(v);
}

const CLUSTER_ID = /^[A-Za-z0-9._-]{1,128}$/;

function checkEnvelope(v: unknown): RuntimeEnvelope {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt('not a runtime batch envelope');
  const e = v as Record<string, unknown>;
  if (e['v'] !== 1) throw corrupt('not a runtime batch envelope (v must be 1)');
  const known = new Set(['v', 'clusterId', 'clusterName', 'receivedAt', 'part', 'parts', 'batch']);
  for (const k of Object.keys(e)) if (!known.has(k)) throw corrupt(`envelope: unknown field '${k.slice(0, 64)}'`);
  const { clusterId, clusterName, receivedAt, part, parts, batch } = e;
  if (typeof clusterId !== 'string' || !CLUSTER_ID.test(clusterId))
    throw corrupt('envelope.clusterId: not a cluster id');
  if (typeof clusterName !== 'string' || clusterName.length > 253 || clusterName.includes('\u0000'))
    throw corrupt('envelope.clusterName: not a cluster name');
  if (typeof receivedAt !== 'string' || Number.isNaN(Date.parse(receivedAt)) || receivedAt.length > 40)
    throw corrupt('envelope.receivedAt: not a time');
  if (
    typeof parts !== 'number' ||
    typeof part !== 'number' ||
    !Number.isInteger(parts) ||
    !Number.isInteger(part) ||
    parts < 1 ||
    parts > INGEST_LIMITS.maxItems ||
    part < 1 ||
    part > parts
  )
    throw corrupt('envelope.part/parts: not 1 ≤ part ≤ parts');
  if (typeof batch !== 'object' || batch === null || Array.isArray(batch))
    throw corrupt('envelope.batch: not an object');
  const b = batch as Record<string, unknown>;
  const id = b['batchId'];
  const suffix = `:${part}/${parts}`;
  if (parts > 1 && (typeof id !== 'string' || !id.endsWith(suffix)))
    throw corrupt(`envelope.batch.batchId: a part's id must end with ${suffix}`);
  // The same checks as the HTTP body (E_INPUT / E_TOO_LARGE naming the path under `batch`).
  validateIngestBatch(parts > 1 ? { ...b, batchId: (id as string).slice(0, -suffix.length) } : b, 'batch');
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
  const items =
    batch.alerts.length + batch.events.length + (batch.kubeEvents?.length ?? 0) + (batch.containers?.length ?? 0);
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
  const containers = batch.containers ?? [];
  const items = batch.alerts.length + batch.events.length + kube.length + containers.length;
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
    if (batch.containers !== undefined)
      part.containers = take(containers, batch.alerts.length + batch.events.length + kube.length);
    // Counters are deltas: added once, with the first part.
    if (i > 0) delete part.counters;
    out.push(part);
  }
  return out;
}
