/**
 * `palisade sensor publish`: receives items from the node's collector over the unix socket,
 * spools them on disk (bounded), and sends them in order, in batches, to the server's runtime
 * ingest endpoint.
 *
 * Guarantees:
 * - An item is acknowledged to the collector only once it is in the spool (fsynced), so a
 *   publisher crash loses nothing acknowledged; frames resent by the collector after a
 *   reconnect are recognised by (session, seq) and not spooled twice.
 * - One batch is in flight at a time, taken from the head of the spool, so the server receives
 *   items in the order they arrived. A batch's id, time and range are written to the state
 *   file before it is first sent: after a restart the same batch goes out again with the same
 *   `batchId` and the server accepts it at most once.
 * - Records leave the spool only after a 2xx (or when the server rejects the batch as bad:
 *   400/422 — it is then written to `dead-letter/` and counted, never retried forever).
 * - 401/403: sending stops with one clear log line, spooling continues; sending resumes when
 *   the token source returns a different token (a rotated Secret), checked every 30 s.
 * - Items refused because the spool is at its limit are counted and reported to the server as
 *   `counters.spoolDrops` in the next batch (persisted in the state file until then).
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  INGEST_LIMITS,
  PALISADE_VERSION,
  PalisadeError,
  systemClock,
  type Alert,
  type Clock,
  type RuntimeEvent,
  type RuntimeIngestBatch,
  type RuntimeIngestResult,
  type SensorCounterDelta,
} from '@palisade/core';
import { IngestError, type IngestClientStats } from './ingest-client.js';
import { labelledMetric, singleMetric, type MetricFamily } from './metrics.js';
import { Spool, type SpoolPosition } from './spool.js';
import {
  DEFAULT_SOCKET_PATH,
  addCounterDeltas,
  emptyCounterDelta,
  transportItemProblem,
  type TransportItem,
} from './transport.js';
import { serveTransport, type TransportServer } from './transport-server.js';

const gzip = promisify(zlib.gzip);

/** What the publisher needs of an ingest client (createIngestClient's result fits). */
export interface PublisherClient {
  readonly endpoint: string;
  send(batch: RuntimeIngestBatch, opts?: { signal?: AbortSignal }): Promise<RuntimeIngestResult>;
  tokenFingerprint(): string;
  stats?(): IngestClientStats;
}

export interface PublisherOptions {
  socketPath?: string;
  spoolDir: string;
  spoolLimitBytes: number;
  spoolFsync?: 'always' | 'never';
  spoolSegmentBytes?: number;
  client: PublisherClient;
  node: string;
  sensorVersion?: string;
  /** Items per batch (default 1000, at most INGEST_LIMITS.maxItems). */
  batchMaxItems?: number;
  /** Spooled bytes per batch (default 4 MiB, well under INGEST_LIMITS.maxBytes). */
  batchMaxBytes?: number;
  /** How long the first item of a batch waits for more before the batch is sent (default 250 ms). */
  batchMaxWaitMs?: number;
  /** Wait after a send failed every attempt; doubles up to retryMaxMs (defaults 1 s, 60 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** How often a refused token is checked for a replacement (default 30 s). */
  authRecheckMs?: number;
  /** Dead-lettered batches kept on disk (default 16; older ones are deleted). */
  deadLetterMax?: number;
  socketMode?: number;
  log?: (line: string) => void;
  clock?: Clock;
  newBatchId?: () => string;
}

export interface PublisherStats {
  itemsReceived: number;
  itemsSpooled: number;
  invalidItems: number;
  spoolDrops: number;
  spoolBytes: number;
  spoolItems: number;
  spoolLimitBytes: number;
  spoolCorruptRegions: number;
  batchesSent: number;
  alertsSent: number;
  eventsSent: number;
  /** Batches the server had already accepted (a resend after a lost response). */
  duplicateBatches: number;
  sendFailures: number;
  deadLetteredBatches: number;
  deadLetteredItems: number;
  splits: number;
  unauthorized: boolean;
  serverReachable: boolean;
  collectorConnections: number;
  duplicateFrames: number;
}

interface InflightBatch {
  batchId: string;
  sealedAt: string;
  start: SpoolPosition;
  end: SpoolPosition;
  /** Records in [start, end). */
  records: number;
  spoolDrops: number;
}

interface PublisherState {
  v: 1;
  /** Last stored frame per collector session, to recognise frames resent after a reconnect. */
  sessions: Record<string, { seq: number; at: number }>;
  pendingSpoolDrops: number;
  inflight?: InflightBatch;
}

export interface Publisher {
  readonly socketPath: string;
  readonly spool: Spool;
  stats(): PublisherStats;
  metrics(): MetricFamily[];
  /** Resolves true once the spool is empty and nothing is in flight, false after timeoutMs. */
  idle(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

const MAX_SESSIONS = 64;
const STATE_FILE = 'publisher-state.json';

function samePos(a: SpoolPosition, b: SpoolPosition): boolean {
  return a.seg === b.seg && a.off === b.off;
}

async function loadState(dir: string): Promise<PublisherState> {
  try {
    const v = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as Partial<PublisherState>;
    if (v.v === 1 && typeof v.sessions === 'object' && v.sessions !== null)
      return {
        v: 1,
        sessions: v.sessions,
        pendingSpoolDrops: typeof v.pendingSpoolDrops === 'number' ? v.pendingSpoolDrops : 0,
        ...(v.inflight ? { inflight: v.inflight } : {}),
      };
  } catch {
    // missing or unreadable: start afresh (a resent frame may then be spooled twice; the
    // server deduplicates alerts and events by id)
  }
  return { v: 1, sessions: {}, pendingSpoolDrops: 0 };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface BuiltBatch {
  batch: RuntimeIngestBatch;
  inflight: InflightBatch;
}

class PublisherImpl implements Publisher {
  readonly socketPath: string;
  private server: TransportServer | undefined;
  private readonly stopCtl = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private wakers: (() => void)[] = [];
  private firstPendingAt: number | undefined;
  private retryDelay: number;
  private unauthorized: string | undefined;
  private outage = false;
  private spoolFull = false;
  private splitLimit: number | undefined;
  private saveWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private saving = false;
  private readonly clock: Clock;
  private readonly s = {
    itemsReceived: 0,
    itemsSpooled: 0,
    invalidItems: 0,
    spoolDrops: 0,
    batchesSent: 0,
    alertsSent: 0,
    eventsSent: 0,
    duplicateBatches: 0,
    sendFailures: 0,
    deadLetteredBatches: 0,
    deadLetteredItems: 0,
    splits: 0,
  };
  private readonly batchMaxItems: number;
  private readonly batchMaxBytes: number;
  private readonly batchMaxWaitMs: number;

  constructor(
    private readonly o: PublisherOptions,
    readonly spool: Spool,
    private readonly state: PublisherState,
  ) {
    this.socketPath = o.socketPath ?? DEFAULT_SOCKET_PATH;
    this.clock = o.clock ?? systemClock;
    this.retryDelay = o.retryInitialMs ?? 1000;
    this.batchMaxItems = Math.min(INGEST_LIMITS.maxItems, o.batchMaxItems ?? 1000);
    this.batchMaxBytes = Math.min(INGEST_LIMITS.maxBytes / 2, o.batchMaxBytes ?? 4 * 1024 * 1024);
    this.batchMaxWaitMs = o.batchMaxWaitMs ?? 250;
    if (!Number.isInteger(this.batchMaxItems) || this.batchMaxItems < 1)
      throw new PalisadeError('E_INPUT', `batch size must be a positive integer, got ${o.batchMaxItems}`, {
        subject: 'publisher',
      });
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  async start(): Promise<void> {
    this.server = await serveTransport({
      socketPath: this.socketPath,
      ...(this.o.socketMode !== undefined ? { mode: this.o.socketMode } : {}),
      lastSeq: (session) => this.state.sessions[session]?.seq ?? 0,
      receive: (session, seq, items) => this.receive(session, seq, items),
      onHello: (h) =>
        this.log(`publisher: collector connected (node ${h.node || '?'}, sensor ${h.sensorVersion || '?'})`),
      log: (l) => this.log(l),
    });
    if (!this.spool.isEmpty() || this.state.pendingSpoolDrops > 0) this.firstPendingAt = 0;
    this.loop = this.sendLoop();
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private waitForWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopCtl.signal;
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async receive(session: string, seq: number, items: unknown[]): Promise<void> {
    const prev = this.state.sessions[session]?.seq ?? 0;
    if (seq <= prev) return; // raced with another connection of the same session
    const records: Buffer[] = [];
    for (const it of items) {
      const problem = transportItemProblem(it);
      if (problem !== undefined) {
        if (this.s.invalidItems === 0) this.log(`publisher: skipping an invalid item from the collector: ${problem}`);
        this.s.invalidItems++;
        continue;
      }
      records.push(Buffer.from(JSON.stringify(it), 'utf8'));
    }
    this.s.itemsReceived += items.length;
    const r = await this.spool.append(records);
    this.s.itemsSpooled += r.appended;
    if (r.dropped > 0) {
      this.s.spoolDrops += r.dropped;
      this.state.pendingSpoolDrops += r.dropped;
      if (!this.spoolFull)
        this.log(
          `publisher: spool full (${this.spool.stats().bytes} of ${this.spool.limitBytes} bytes): dropping new items ` +
            'until the server takes some; drops are counted and reported',
        );
      this.spoolFull = true;
    } else if (this.spoolFull && r.appended > 0) {
      this.spoolFull = false;
      this.log(`publisher: spool has room again (${this.s.spoolDrops} items dropped so far)`);
    }
    this.state.sessions[session] = { seq, at: this.clock.now().getTime() };
    this.pruneSessions();
    await this.saveState();
    if (this.firstPendingAt === undefined && (r.appended > 0 || r.dropped > 0)) this.firstPendingAt = Date.now();
    this.wake();
  }

  private pruneSessions(): void {
    const entries = Object.entries(this.state.sessions);
    if (entries.length <= MAX_SESSIONS) return;
    entries.sort((a, b) => b[1].at - a[1].at);
    this.state.sessions = Object.fromEntries(entries.slice(0, MAX_SESSIONS));
  }

  /** Writes the state file; concurrent callers share writes, each resolved by one that began after its call. */
  private saveState(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.saveWaiters.push({ resolve, reject });
      if (!this.saving) void this.saveLoop();
    });
  }

  private async saveLoop(): Promise<void> {
    this.saving = true;
    while (this.saveWaiters.length > 0) {
      const waiters = this.saveWaiters.splice(0);
      try {
        const file = join(this.o.spoolDir, STATE_FILE);
        const fh = await open(`${file}.tmp`, 'w');
        try {
          await fh.writeFile(JSON.stringify(this.state));
          if (this.o.spoolFsync !== 'never') await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(`${file}.tmp`, file);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.saving = false;
  }

  private pendingWork(): boolean {
    return !this.spool.isEmpty() || this.state.pendingSpoolDrops > 0 || this.state.inflight !== undefined;
  }

  private async sendLoop(): Promise<void> {
    const signal = this.stopCtl.signal;
    while (!signal.aborted) {
      try {
        if (this.unauthorized !== undefined) {
          await sleep(this.o.authRecheckMs ?? 30_000, signal);
          if (!signal.aborted && this.o.client.tokenFingerprint() !== this.unauthorized) {
            this.unauthorized = undefined;
            this.log('publisher: the ingest token changed; sending again');
          }
          continue;
        }
        const built = await this.nextBatch();
        if (!built) continue;
        await this.deliver(built);
      } catch (err) {
        // Disk errors and the like: say so and try again later rather than spin or die.
        if (signal.aborted) break;
        this.log(`publisher: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(this.retryDelay, signal);
      }
    }
  }

  /** The batch to send next, or undefined after waiting (for data, time, or stop). */
  private async nextBatch(): Promise<BuiltBatch | undefined> {
    const infl = this.state.inflight;
    if (infl) {
      if (samePos(infl.start, this.spool.cursor)) return this.build(infl);
      // Stale (the cursor moved past it before a crash): give its drop count back.
      this.state.pendingSpoolDrops += infl.spoolDrops;
      delete this.state.inflight;
    }
    if (!this.pendingWork()) {
      this.firstPendingAt = undefined;
      await this.waitForWake(60_000);
      return undefined;
    }
    const limit = this.splitLimit ?? this.batchMaxItems;
    this.firstPendingAt ??= Date.now();
    const waited = Date.now() - this.firstPendingAt;
    if (this.spool.stats().items < limit && waited < this.batchMaxWaitMs) {
      await this.waitForWake(this.batchMaxWaitMs - waited);
      return undefined;
    }
    const cursor = this.spool.cursor;
    const read = await this.spool.read(cursor, { maxItems: limit, maxBytes: this.batchMaxBytes });
    const inflight: InflightBatch = {
      batchId: this.o.newBatchId?.() ?? randomUUID(),
      sealedAt: this.clock.now().toISOString(),
      start: cursor,
      end: read.end,
      records: read.records.length,
      spoolDrops: this.state.pendingSpoolDrops,
    };
    this.state.pendingSpoolDrops = 0;
    this.state.inflight = inflight;
    await this.saveState();
    this.firstPendingAt = undefined;
    return this.assemble(inflight, read.records);
  }

  private async build(inflight: InflightBatch): Promise<BuiltBatch> {
    const read = await this.spool.read(inflight.start, {
      maxItems: Number.MAX_SAFE_INTEGER,
      maxBytes: Number.MAX_SAFE_INTEGER,
      until: inflight.end,
    });
    return this.assemble(inflight, read.records);
  }

  private assemble(inflight: InflightBatch, records: Buffer[]): BuiltBatch {
    const alerts: Alert[] = [];
    const events: RuntimeEvent[] = [];
    let counters: SensorCounterDelta | undefined;
    for (const rec of records) {
      let item: TransportItem;
      try {
        item = JSON.parse(rec.toString('utf8')) as TransportItem;
      } catch {
        this.s.invalidItems++;
        continue;
      }
      if (transportItemProblem(item) !== undefined) {
        this.s.invalidItems++;
        continue;
      }
      if (item.k === 'alert') alerts.push(item.alert);
      else if (item.k === 'event') events.push(item.event);
      else counters = addCounterDeltas(counters ?? emptyCounterDelta(), item.counters);
    }
    if (inflight.spoolDrops > 0)
      counters = addCounterDeltas(counters ?? emptyCounterDelta(), {
        ...emptyCounterDelta(),
        spoolDrops: inflight.spoolDrops,
      });
    const batch: RuntimeIngestBatch = {
      batchId: inflight.batchId,
      source: 'collector',
      node: this.o.node,
      sensorVersion: this.o.sensorVersion ?? PALISADE_VERSION,
      sentAt: inflight.sealedAt,
      alerts,
      events,
      ...(counters ? { counters } : {}),
    };
    return { batch, inflight };
  }

  private async done(inflight: InflightBatch): Promise<void> {
    await this.spool.commit(inflight.end, inflight.records);
    delete this.state.inflight;
    await this.saveState();
  }

  private async deliver({ batch, inflight }: BuiltBatch): Promise<void> {
    const signal = this.stopCtl.signal;
    if (batch.alerts.length === 0 && batch.events.length === 0 && batch.counters === undefined) {
      await this.done(inflight); // nothing left worth sending (only unreadable records)
      return;
    }
    try {
      const res = await this.o.client.send(batch, { signal });
      this.s.batchesSent++;
      this.s.alertsSent += batch.alerts.length;
      this.s.eventsSent += batch.events.length;
      if (!res.accepted) this.s.duplicateBatches++;
      await this.done(inflight);
      this.splitLimit = undefined;
      this.retryDelay = this.o.retryInitialMs ?? 1000;
      if (this.outage) {
        this.outage = false;
        this.log(`publisher: the server is reachable again; ${this.spool.stats().items} items still spooled`);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (!(err instanceof IngestError)) throw err;
      await this.onSendError(err, batch, inflight);
    }
  }

  private async onSendError(err: IngestError, batch: RuntimeIngestBatch, inflight: InflightBatch): Promise<void> {
    const signal = this.stopCtl.signal;
    switch (err.kind) {
      case 'aborted':
        return;
      case 'unauthorized':
        this.unauthorized = this.o.client.tokenFingerprint();
        this.log(
          `publisher: ${err.describe()} at ${this.o.client.endpoint}; sending stopped, spooling continues ` +
            `(${this.spool.stats().items} items kept). Replace the token; it is checked again every ` +
            `${Math.round((this.o.authRecheckMs ?? 30_000) / 1000)} s`,
        );
        return;
      case 'too-large':
        if (inflight.records > 1) {
          // Send the same records in smaller batches; new ids, since nothing was stored.
          this.s.splits++;
          this.splitLimit = Math.max(1, Math.floor(inflight.records / 2));
          this.state.pendingSpoolDrops += inflight.spoolDrops;
          delete this.state.inflight;
          await this.saveState();
          this.log(`publisher: ${err.message}; splitting into batches of ${this.splitLimit} items`);
          return;
        }
        await this.deadLetter(err, batch, inflight);
        return;
      case 'rejected':
        await this.deadLetter(err, batch, inflight);
        return;
      case 'retryable': {
        this.s.sendFailures++;
        if (!this.outage) {
          this.outage = true;
          const st = this.spool.stats();
          this.log(
            `publisher: cannot deliver to ${this.o.client.endpoint}: ${err.message}; spooling meanwhile ` +
              `(${st.items} items, ${st.bytes} of ${st.limitBytes} bytes) and retrying with backoff`,
          );
        }
        const delay = Math.round(this.retryDelay / 2 + (Math.random() * this.retryDelay) / 2);
        this.retryDelay = Math.min(this.o.retryMaxMs ?? 60_000, this.retryDelay * 2);
        await sleep(delay, signal);
        return;
      }
    }
  }

  private async deadLetter(err: IngestError, batch: RuntimeIngestBatch, inflight: InflightBatch): Promise<void> {
    const dir = join(this.o.spoolDir, 'dead-letter');
    const name = `${inflight.sealedAt.replace(/[^0-9A-Za-z]/g, '')}-${batch.batchId}.json.gz`;
    let where = '';
    try {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(join(dir, name), await gzip(Buffer.from(JSON.stringify(batch))));
      where = `; kept in ${join(dir, name)}`;
      await this.pruneDeadLetters(dir);
    } catch (e) {
      where = `; could not keep it: ${e instanceof Error ? e.message : String(e)}`;
    }
    this.s.deadLetteredBatches++;
    this.s.deadLetteredItems += batch.alerts.length + batch.events.length;
    this.log(`publisher: batch ${batch.batchId} (${inflight.records} items) not delivered: ${err.message}${where}`);
    await this.done(inflight);
  }

  private async pruneDeadLetters(dir: string): Promise<void> {
    const max = this.o.deadLetterMax ?? 16;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json.gz')).sort();
    for (const f of files.slice(0, Math.max(0, files.length - max))) await unlink(join(dir, f)).catch(() => undefined);
  }

  stats(): PublisherStats {
    const sp = this.spool.stats();
    const tr = this.server?.stats();
    return {
      ...this.s,
      spoolBytes: sp.bytes,
      spoolItems: sp.items,
      spoolLimitBytes: sp.limitBytes,
      spoolCorruptRegions: sp.corruptRegions,
      unauthorized: this.unauthorized !== undefined,
      serverReachable: !this.outage,
      collectorConnections: tr?.connections ?? 0,
      duplicateFrames: tr?.duplicateFrames ?? 0,
    };
  }

  metrics(): MetricFamily[] {
    const st = this.stats();
    const cl = this.o.client.stats?.();
    const p = 'palisade_publisher_';
    const out: MetricFamily[] = [
      singleMetric(`${p}spool_bytes`, 'Bytes of spool segment files on disk.', 'gauge', st.spoolBytes),
      singleMetric(`${p}spool_items`, 'Items spooled and not yet delivered.', 'gauge', st.spoolItems),
      singleMetric(`${p}spool_limit_bytes`, 'The spool size limit.', 'gauge', st.spoolLimitBytes),
      singleMetric(`${p}items_received_total`, 'Items received from collectors.', 'counter', st.itemsReceived),
      singleMetric(`${p}items_spooled_total`, 'Items written to the spool.', 'counter', st.itemsSpooled),
      singleMetric(
        `${p}spool_drops_total`,
        'Items refused because the spool was at its limit.',
        'counter',
        st.spoolDrops,
      ),
      singleMetric(`${p}invalid_items_total`, 'Malformed items skipped.', 'counter', st.invalidItems),
      singleMetric(
        `${p}spool_corrupt_regions_total`,
        'Torn or corrupt spool regions skipped.',
        'counter',
        st.spoolCorruptRegions,
      ),
      singleMetric(`${p}batches_sent_total`, 'Batches the server acknowledged.', 'counter', st.batchesSent),
      labelledMetric(`${p}items_sent_total`, 'Items the server acknowledged, by kind.', 'counter', 'kind', {
        alert: st.alertsSent,
        event: st.eventsSent,
      }),
      singleMetric(
        `${p}duplicate_batches_total`,
        'Batches the server had already accepted.',
        'counter',
        st.duplicateBatches,
      ),
      singleMetric(`${p}send_failures_total`, 'Sends that failed every attempt.', 'counter', st.sendFailures),
      singleMetric(
        `${p}dead_lettered_batches_total`,
        'Batches the server rejected as invalid.',
        'counter',
        st.deadLetteredBatches,
      ),
      singleMetric(`${p}dead_lettered_items_total`, 'Items in dead-lettered batches.', 'counter', st.deadLetteredItems),
      singleMetric(
        `${p}unauthorized`,
        '1 while the server refuses the ingest token.',
        'gauge',
        st.unauthorized ? 1 : 0,
      ),
      singleMetric(`${p}server_reachable`, '0 while deliveries fail.', 'gauge', st.serverReachable ? 1 : 0),
      singleMetric(
        `${p}collector_connections_total`,
        'Collector connections accepted.',
        'counter',
        st.collectorConnections,
      ),
      singleMetric(
        `${p}duplicate_frames_total`,
        'Resent frames recognised and not spooled again.',
        'counter',
        st.duplicateFrames,
      ),
    ];
    if (cl) {
      out.push(
        singleMetric(`${p}http_requests_total`, 'HTTP requests to the ingest endpoint.', 'counter', cl.requests),
        singleMetric(`${p}send_retries_total`, 'Retries of a request within one send.', 'counter', cl.retries),
        singleMetric(
          `${p}network_errors_total`,
          'Requests that failed without a response.',
          'counter',
          cl.networkErrors,
        ),
        labelledMetric(
          `${p}http_responses_total`,
          'Responses of the ingest endpoint by status.',
          'counter',
          'status',
          cl.byStatus,
        ),
        singleMetric(`${p}bytes_sent_total`, 'Compressed bytes of delivered batches.', 'counter', cl.bytesSent),
      );
    }
    return out;
  }

  async idle(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.pendingWork()) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.stopCtl.abort();
    await this.loop;
    await this.saveState();
    await this.spool.close();
  }
}

async function writeFileAtomic(file: string, data: Buffer): Promise<void> {
  const fh = await open(`${file}.tmp`, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(`${file}.tmp`, file);
}

/** Opens the spool, recovers state, listens on the socket and starts sending. */
export async function runPublisher(opts: PublisherOptions): Promise<Publisher> {
  if (opts.batchMaxItems !== undefined && opts.batchMaxItems > INGEST_LIMITS.maxItems)
    throw new PalisadeError(
      'E_INPUT',
      `batch size ${opts.batchMaxItems} exceeds the server's ${INGEST_LIMITS.maxItems}`,
      {
        subject: 'publisher',
      },
    );
  const spool = await Spool.open({
    dir: opts.spoolDir,
    limitBytes: opts.spoolLimitBytes,
    ...(opts.spoolFsync ? { fsync: opts.spoolFsync } : {}),
    ...(opts.spoolSegmentBytes !== undefined ? { segmentBytes: opts.spoolSegmentBytes } : {}),
  });
  const st = spool.stats();
  if (st.corruptRegions > 0)
    opts.log?.(`publisher: spool recovery cut ${st.corruptRegions} torn/corrupt region(s) (${st.corruptBytes} bytes)`);
  if (st.items > 0) opts.log?.(`publisher: ${st.items} items waiting in the spool from before`);
  const state = await loadState(opts.spoolDir);
  const p = new PublisherImpl(opts, spool, state);
  try {
    await p.start();
  } catch (err) {
    await spool.close();
    throw err;
  }
  return p;
}
