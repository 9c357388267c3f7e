/**
 * The node-local hand-off between the collector (privileged, no network) and the publisher
 * (unprivileged, HTTPS egress): a unix socket carrying length-prefixed JSON frames.
 *
 *   frame   = [u32 big-endian length][UTF-8 JSON message]   (length ≤ MAX_FRAME_BYTES)
 *   C → P   {"t":"hello","v":1,"session":S,"node":N,"sensorVersion":V}     once, first
 *           {"t":"items","seq":Q,"items":[TransportItem…]}                  Q = 1, 2, 3, …
 *   P → C   {"t":"welcome","v":1,"lastSeq":Q}   highest seq of session S the publisher holds
 *           {"t":"ack","seq":Q}                 every frame ≤ Q is durably spooled (cumulative)
 *           {"t":"error","message":M}           protocol violation; the publisher then closes
 *
 * The collector keeps every frame until it is acknowledged and resends unacknowledged frames
 * (same seq) after a reconnect; the publisher remembers the last seq per session (across its
 * own restarts, in its state file) and acknowledges a resent frame without spooling it again.
 */
import type { Alert, RuntimeEvent, SensorCounterDelta } from '@palisade/core';
import { PalisadeError } from '@palisade/core';

export const TRANSPORT_VERSION = 1;
export const DEFAULT_SOCKET_PATH = '/run/palisade/publisher.sock';
/** A frame longer than this stops the stream (a length-prefixed stream cannot resynchronise). */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** The hello frame is small (a session id ≤ 128 characters, a node name, a version). */
export const MAX_HELLO_BYTES = 4096;

/** What the collector hands to the publisher: an alert (with its events), a raw event, counters. */
export type TransportItem =
  { k: 'alert'; alert: Alert } | { k: 'event'; event: RuntimeEvent } | { k: 'counters'; counters: SensorCounterDelta };

export interface HelloMessage {
  t: 'hello';
  v: number;
  /** Random per collector process: the publisher deduplicates resent frames per session. */
  session: string;
  node: string;
  sensorVersion: string;
}
export interface ItemsMessage {
  t: 'items';
  seq: number;
  items: TransportItem[];
}
export type CollectorMessage = HelloMessage | ItemsMessage;
export type PublisherMessage =
  { t: 'welcome'; v: number; lastSeq: number } | { t: 'ack'; seq: number } | { t: 'error'; message: string };

/** Encodes one frame: 4-byte big-endian length, then the payload. */
export function encodeFrame(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > MAX_FRAME_BYTES)
    throw new PalisadeError('E_TOO_LARGE', `frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`, {
      subject: 'transport',
    });
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Encodes a message object as one frame. */
export function encodeMessage(msg: CollectorMessage | PublisherMessage): Buffer {
  return encodeFrame(JSON.stringify(msg));
}

/**
 * Splits a byte stream into frames. Chunks may cut frames anywhere. Once a length above the
 * limit is seen, `error` is set and nothing more is returned: the stream must be closed.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private frames = 0;
  error: string | undefined;

  /**
   * `firstFrameMaxBytes`: a lower limit for the first frame only (the publisher's end: the
   * first frame must be the small hello, so a connection that has not said hello yet can
   * never make it buffer megabytes).
   */
  constructor(
    private readonly maxFrameBytes = MAX_FRAME_BYTES,
    private readonly firstFrameMaxBytes = maxFrameBytes,
  ) {}

  push(chunk: Buffer): Buffer[] {
    if (this.error !== undefined) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    while (this.buffered >= 4) {
      const len = this.peekLength();
      const limit = this.frames === 0 ? this.firstFrameMaxBytes : this.maxFrameBytes;
      if (len > limit) {
        this.error = `${this.frames === 0 ? 'first ' : ''}frame length ${len} exceeds the limit of ${limit} bytes`;
        this.chunks = [];
        this.buffered = 0;
        return out;
      }
      if (this.buffered < 4 + len) break;
      const all = this.take(4 + len);
      out.push(all.subarray(4));
      this.frames++;
    }
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const frame = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses a frame from the collector; a message that breaks the protocol throws E_CORRUPT. */
export function parseCollectorMessage(frame: Buffer): CollectorMessage {
  let v: unknown;
  try {
    v = JSON.parse(frame.toString('utf8'));
  } catch {
    throw new PalisadeError('E_CORRUPT', 'frame is not JSON', { subject: 'transport' });
  }
  if (!isObject(v)) throw new PalisadeError('E_CORRUPT', 'frame is not a JSON object', { subject: 'transport' });
  if (v['t'] === 'hello') {
    if (typeof v['session'] !== 'string' || v['session'] === '' || v['session'].length > 128)
      throw new PalisadeError('E_CORRUPT', 'hello without a valid "session"', { subject: 'transport' });
    return {
      t: 'hello',
      v: typeof v['v'] === 'number' ? v['v'] : 0,
      session: v['session'],
      node: typeof v['node'] === 'string' ? v['node'] : '',
      sensorVersion: typeof v['sensorVersion'] === 'string' ? v['sensorVersion'] : '',
    };
  }
  if (v['t'] === 'items') {
    if (!isSeq(v['seq']) || v['seq'] === 0)
      throw new PalisadeError('E_CORRUPT', 'items frame without a positive "seq"', { subject: 'transport' });
    if (!Array.isArray(v['items']))
      throw new PalisadeError('E_CORRUPT', 'items frame without an "items" array', { subject: 'transport' });
    // Items are checked one by one by the receiver (a bad item is counted, not fatal).
    return { t: 'items', seq: v['seq'], items: v['items'] as TransportItem[] };
  }
  throw new PalisadeError('E_CORRUPT', `unknown message type ${JSON.stringify(v['t'])}`, { subject: 'transport' });
}

/** Parses a frame from the publisher. */
export function parsePublisherMessage(frame: Buffer): PublisherMessage {
  let v: unknown;
  try {
    v = JSON.parse(frame.toString('utf8'));
  } catch {
    throw new PalisadeError('E_CORRUPT', 'frame is not JSON', { subject: 'transport' });
  }
  if (!isObject(v)) throw new PalisadeError('E_CORRUPT', 'frame is not a JSON object', { subject: 'transport' });
  if (v['t'] === 'welcome' && isSeq(v['lastSeq']))
    return { t: 'welcome', v: typeof v['v'] === 'number' ? v['v'] : 0, lastSeq: v['lastSeq'] };
  if (v['t'] === 'ack' && isSeq(v['seq'])) return { t: 'ack', seq: v['seq'] };
  if (v['t'] === 'error') return { t: 'error', message: typeof v['message'] === 'string' ? v['message'] : '' };
  throw new PalisadeError('E_CORRUPT', `unexpected message ${JSON.stringify(v['t'])}`, { subject: 'transport' });
}

/** Why an item is unusable, or undefined when it is well-formed enough to spool. */
export function transportItemProblem(item: unknown): string | undefined {
  if (!isObject(item)) return 'item is not an object';
  switch (item['k']) {
    case 'alert': {
      const a = item['alert'];
      if (!isObject(a) || typeof a['id'] !== 'string' || typeof a['ruleId'] !== 'string')
        return 'alert without "id" and "ruleId"';
      return Array.isArray(a['events']) ? undefined : 'alert without "events"';
    }
    case 'event': {
      const e = item['event'];
      if (!isObject(e) || typeof e['id'] !== 'string' || typeof e['type'] !== 'string')
        return 'event without "id" and "type"';
      return undefined;
    }
    case 'counters':
      return counterDeltaProblem(item['counters']);
    default:
      return `unknown item kind ${JSON.stringify(item['k'])}`;
  }
}

function counterDeltaProblem(c: unknown): string | undefined {
  if (!isObject(c) || !isObject(c['seen'])) return 'counters without "seen"';
  for (const v of Object.values(c['seen'])) if (!isSeq(v)) return 'counters "seen" holds a non-count';
  for (const k of ['kernelDrops', 'userDrops', 'spoolDrops'] as const)
    if (!isSeq(c[k])) return `counters "${k}" is not a count`;
  return undefined;
}

export function emptyCounterDelta(): SensorCounterDelta {
  return { seen: {}, kernelDrops: 0, userDrops: 0, spoolDrops: 0 };
}

/** a + b, as a new delta (keys of `seen` sorted so the JSON is deterministic). */
export function addCounterDeltas(a: SensorCounterDelta, b: SensorCounterDelta): SensorCounterDelta {
  const seen: Record<string, number> = {};
  for (const k of [...new Set([...Object.keys(a.seen), ...Object.keys(b.seen)])].sort())
    seen[k] = (a.seen[k] ?? 0) + (b.seen[k] ?? 0);
  return {
    seen,
    kernelDrops: a.kernelDrops + b.kernelDrops,
    userDrops: a.userDrops + b.userDrops,
    spoolDrops: a.spoolDrops + b.spoolDrops,
  };
}

export function isZeroCounterDelta(c: SensorCounterDelta): boolean {
  return c.kernelDrops === 0 && c.userDrops === 0 && c.spoolDrops === 0 && Object.values(c.seen).every((v) => v === 0);
}
