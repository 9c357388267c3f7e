/**
 * The collector's end of the node-local transport: a bounded in-memory buffer of items that
 * the publisher has not yet acknowledged, sent as frames over the unix socket, kept until
 * acknowledged and resent after a reconnect. When the publisher is gone the buffer fills up
 * to its bound (items and bytes) and then new items are refused and counted (drop-newest, as
 * the kernel ring buffer and the sensor's queue do: what is kept stays in order and nothing
 * already handed over is thrown away). Alerts have headroom: raw events are refused once the
 * buffer is `eventShare` full, alerts only when it is completely full. Counter deltas are never
 * dropped: they are merged into one pending delta that rides the next frame.
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { PALISADE_VERSION, type SensorCounterDelta } from '@palisade/core';
import { singleMetric, type MetricFamily } from './metrics.js';
import {
  DEFAULT_SOCKET_PATH,
  FrameDecoder,
  TRANSPORT_VERSION,
  addCounterDeltas,
  encodeFrame,
  encodeMessage,
  parsePublisherMessage,
  type TransportItem,
} from './transport.js';

export interface TransportClientOptions {
  socketPath?: string;
  node: string;
  sensorVersion?: string;
  /** Identifies this collector run to the publisher (default: a random UUID). */
  session?: string;
  /** Items held (queued + sent but unacknowledged) before new ones are refused (default 50 000). */
  maxBufferedItems?: number;
  /** Bytes of item JSON held before new ones are refused (default 64 MiB). */
  maxBufferedBytes?: number;
  /** Share of the bounds raw events may use; the rest is kept for alerts (default 0.9). */
  eventShare?: number;
  frameMaxItems?: number;
  frameMaxBytes?: number;
  /** Frames sent and not yet acknowledged (default 8). */
  maxInflightFrames?: number;
  /** How long a first item waits for company before a frame is sent (default 20 ms). */
  lingerMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  log?: (line: string) => void;
}

export interface TransportClientStats {
  connected: boolean;
  bufferedItems: number;
  bufferedBytes: number;
  offered: { alert: number; event: number };
  dropped: { alert: number; event: number };
  /** Items larger than a frame can carry (also counted in `dropped`). */
  oversize: number;
  framesSent: number;
  framesAcked: number;
  itemsAcked: number;
  /** Frames sent again after a reconnect. */
  resent: number;
  connects: number;
}

interface Entry {
  kind: 'alert' | 'event';
  data: Buffer;
}

interface Frame {
  seq: number;
  entries: Entry[];
  counters: SensorCounterDelta | undefined;
  bytes: number;
}

/** A FIFO with O(1) shift (an array with a moving head, compacted now and then). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
}

const FRAME_OVERHEAD = 64;

export class TransportClient {
  readonly socketPath: string;
  readonly session: string;
  private readonly o: Required<
    Omit<TransportClientOptions, 'socketPath' | 'session' | 'log' | 'node' | 'sensorVersion'>
  >;
  private readonly queue = new Fifo<Entry>();
  private inflight: Frame[] = [];
  private queuedBytes = 0;
  private inflightItems = 0;
  private inflightBytes = 0;
  private pendingCounters: SensorCounterDelta | undefined;
  private seq = 0;
  private sock: net.Socket | undefined;
  private ready = false;
  private writeBlocked = false;
  private closing = false;
  private started = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private outageLogged = false;
  private lastError = '';
  private flushWaiters: (() => void)[] = [];
  private readonly s: Omit<TransportClientStats, 'connected' | 'bufferedItems' | 'bufferedBytes'> = {
    offered: { alert: 0, event: 0 },
    dropped: { alert: 0, event: 0 },
    oversize: 0,
    framesSent: 0,
    framesAcked: 0,
    itemsAcked: 0,
    resent: 0,
    connects: 0,
  };

  constructor(private readonly opts: TransportClientOptions) {
    this.socketPath = opts.socketPath ?? DEFAULT_SOCKET_PATH;
    this.session = opts.session ?? randomUUID();
    this.o = {
      maxBufferedItems: opts.maxBufferedItems ?? 50_000,
      maxBufferedBytes: opts.maxBufferedBytes ?? 64 * 1024 * 1024,
      eventShare: opts.eventShare ?? 0.9,
      frameMaxItems: opts.frameMaxItems ?? 500,
      frameMaxBytes: opts.frameMaxBytes ?? 1024 * 1024,
      maxInflightFrames: opts.maxInflightFrames ?? 8,
      lingerMs: opts.lingerMs ?? 20,
      reconnectInitialMs: opts.reconnectInitialMs ?? 100,
      reconnectMaxMs: opts.reconnectMaxMs ?? 5000,
    };
  }

  /** Starts connecting (and reconnecting) in the background. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  /**
   * Hands an alert or a raw event over. Returns false when it was dropped (buffer at its
   * bound, or an item too large for a frame); drops are counted.
   */
  offer(item: Exclude<TransportItem, { k: 'counters' }>): boolean {
    const kind = item.k;
    this.s.offered[kind]++;
    const data = Buffer.from(JSON.stringify(item), 'utf8');
    if (data.length + FRAME_OVERHEAD > this.o.frameMaxBytes) {
      this.s.oversize++;
      this.s.dropped[kind]++;
      return false;
    }
    const share = kind === 'alert' ? 1 : this.o.eventShare;
    if (
      this.bufferedItems() + 1 > this.o.maxBufferedItems * share ||
      this.bufferedBytes() + data.length > this.o.maxBufferedBytes * share
    ) {
      this.s.dropped[kind]++;
      return false;
    }
    this.queue.push({ kind, data });
    this.queuedBytes += data.length;
    if (this.queue.length >= this.o.frameMaxItems) this.pump();
    else this.scheduleLinger();
    return true;
  }

  /** Adds a counter delta; merged with any delta not yet sent, never dropped. */
  addCounters(delta: SensorCounterDelta): void {
    this.pendingCounters = this.pendingCounters ? addCounterDeltas(this.pendingCounters, delta) : delta;
    this.scheduleLinger();
  }

  /** Items refused so far (all kinds): the collector reports them as user-space drops. */
  droppedItems(): number {
    return this.s.dropped.alert + this.s.dropped.event;
  }

  stats(): TransportClientStats {
    return {
      ...this.s,
      offered: { ...this.s.offered },
      dropped: { ...this.s.dropped },
      connected: this.ready,
      bufferedItems: this.bufferedItems(),
      bufferedBytes: this.bufferedBytes(),
    };
  }

  metrics(): MetricFamily[] {
    const st = this.stats();
    const p = 'palisade_collector_transport_';
    return [
      singleMetric(`${p}connected`, '1 while connected to the publisher.', 'gauge', st.connected ? 1 : 0),
      singleMetric(`${p}frames_sent_total`, 'Frames written to the publisher socket.', 'counter', st.framesSent),
      singleMetric(`${p}frames_acked_total`, 'Frames the publisher acknowledged.', 'counter', st.framesAcked),
      singleMetric(`${p}items_acked_total`, 'Items the publisher acknowledged.', 'counter', st.itemsAcked),
      singleMetric(`${p}frames_resent_total`, 'Frames sent again after a reconnect.', 'counter', st.resent),
      singleMetric(`${p}connects_total`, 'Connections to the publisher.', 'counter', st.connects),
      singleMetric(`${p}oversize_items_total`, 'Items too large for a frame (dropped).', 'counter', st.oversize),
    ];
  }

  bufferedItems(): number {
    return this.queue.length + this.inflightItems;
  }

  bufferedBytes(): number {
    return this.queuedBytes + this.inflightBytes;
  }

  private isEmpty(): boolean {
    return this.queue.length === 0 && this.inflight.length === 0 && this.pendingCounters === undefined;
  }

  /** Resolves true once everything handed over is acknowledged, false after `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.isEmpty()) return Promise.resolve(true);
    this.pump();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      const t = setTimeout(() => {
        this.flushWaiters = this.flushWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.flushWaiters.push(done);
    });
  }

  /** Waits up to `flushTimeoutMs` for acknowledgements, then disconnects for good. */
  async close(flushTimeoutMs = 0): Promise<boolean> {
    const flushed = flushTimeoutMs > 0 ? await this.flush(flushTimeoutMs) : this.isEmpty();
    this.closing = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.lingerTimer = this.reconnectTimer = undefined;
    const sock = this.sock;
    if (sock) {
      await new Promise<void>((resolve) => {
        sock.once('close', () => resolve());
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      });
    }
    return flushed;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private connect(): void {
    if (this.closing) return;
    const sock = net.createConnection(this.socketPath);
    this.sock = sock;
    const decoder = new FrameDecoder(64 * 1024);
    sock.on('connect', () => {
      sock.write(
        encodeMessage({
          t: 'hello',
          v: TRANSPORT_VERSION,
          session: this.session,
          node: this.opts.node,
          sensorVersion: this.opts.sensorVersion ?? PALISADE_VERSION,
        }),
      );
    });
    sock.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        try {
          this.onMessage(parsePublisherMessage(f));
        } catch (err) {
          this.lastError = err instanceof Error ? err.message : String(err);
          sock.destroy();
          return;
        }
      }
      if (decoder.error !== undefined) {
        this.lastError = decoder.error;
        sock.destroy();
      }
    });
    sock.on('drain', () => {
      this.writeBlocked = false;
      this.pump();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError = err.code ?? err.message;
    });
    sock.on('close', () => this.onClose(sock));
  }

  private onMessage(msg: ReturnType<typeof parsePublisherMessage>): void {
    switch (msg.t) {
      case 'welcome': {
        this.ackUpTo(msg.lastSeq);
        this.ready = true;
        this.attempt = 0;
        this.s.connects++;
        const resend = this.inflight.length;
        if (this.outageLogged || resend > 0)
          this.log(
            `collector: connected to the publisher at ${this.socketPath}` +
              (resend > 0 ? ` (resending ${resend} unacknowledged frames)` : '') +
              `; ${this.bufferedItems()} items buffered`,
          );
        this.outageLogged = false;
        for (const f of this.inflight) {
          this.s.resent++;
          this.write(f);
        }
        this.pump();
        return;
      }
      case 'ack':
        this.ackUpTo(msg.seq);
        this.pump();
        return;
      case 'error':
        this.lastError = `publisher: ${msg.message}`;
        this.log(`collector: the publisher refused the stream: ${msg.message}`);
        return;
    }
  }

  private ackUpTo(seq: number): void {
    while (this.inflight.length > 0 && (this.inflight[0] as Frame).seq <= seq) {
      const f = this.inflight.shift() as Frame;
      this.inflightItems -= f.entries.length;
      this.inflightBytes -= f.bytes;
      this.s.framesAcked++;
      this.s.itemsAcked += f.entries.length;
    }
    if (this.isEmpty()) for (const w of this.flushWaiters.splice(0)) w();
  }

  private onClose(sock: net.Socket): void {
    if (this.sock !== sock) return;
    this.sock = undefined;
    const wasReady = this.ready;
    this.ready = false;
    this.writeBlocked = false;
    if (this.closing) return;
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.log(
        `collector: ${wasReady ? 'lost the publisher' : 'cannot reach the publisher'} at ${this.socketPath}` +
          `${this.lastError ? ` (${this.lastError})` : ''}; buffering up to ${this.o.maxBufferedItems} items / ` +
          `${Math.round(this.o.maxBufferedBytes / 1048576)} MiB meanwhile`,
      );
    }
    // Exponential backoff with jitter, so a restarted publisher is not hit by every retry at once.
    const base = Math.min(this.o.reconnectMaxMs, this.o.reconnectInitialMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private scheduleLinger(): void {
    if (this.lingerTimer || !this.ready) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump();
    }, this.o.lingerMs);
  }

  /** Sends as many new frames as the window allows. */
  private pump(): void {
    while (this.ready && !this.writeBlocked && this.inflight.length < this.o.maxInflightFrames) {
      const frame = this.nextFrame();
      if (!frame) return;
      this.inflight.push(frame);
      this.inflightItems += frame.entries.length;
      this.inflightBytes += frame.bytes;
      this.write(frame);
    }
  }

  private nextFrame(): Frame | undefined {
    if (this.queue.length === 0 && this.pendingCounters === undefined) return undefined;
    const entries: Entry[] = [];
    let bytes = 0;
    for (;;) {
      const e = this.queue.peek();
      if (!e || entries.length >= this.o.frameMaxItems) break;
      if (entries.length > 0 && bytes + e.data.length + FRAME_OVERHEAD > this.o.frameMaxBytes) break;
      this.queue.shift();
      entries.push(e);
      bytes += e.data.length;
    }
    this.queuedBytes -= bytes;
    const counters = this.pendingCounters;
    this.pendingCounters = undefined;
    return { seq: ++this.seq, entries, counters, bytes };
  }

  private write(frame: Frame): void {
    const sock = this.sock;
    if (!sock) return;
    const parts: Buffer[] = [Buffer.from(`{"t":"items","seq":${frame.seq},"items":[`)];
    frame.entries.forEach((e, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(e.data);
    });
    if (frame.counters) {
      if (frame.entries.length > 0) parts.push(COMMA);
      parts.push(Buffer.from(JSON.stringify({ k: 'counters', counters: frame.counters })));
    }
    parts.push(CLOSE);
    this.s.framesSent++;
    if (!sock.write(encodeFrame(Buffer.concat(parts)))) this.writeBlocked = true;
  }
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');
