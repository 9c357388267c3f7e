/**
 * Where `palisade simulate` looks for the alerts its scenarios should raise:
 * - local: the eBPF sensor and the rule engine in this process (nothing else involved);
 * - server: a Palisade server's `GET /api/v1/alerts`, fed by the node's collector and
 *   publisher, so the whole path sensor → publisher → ingest → storage → API is exercised.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { PalisadeError } from '@palisade/core';
import type { RuleEngine } from '@palisade/rules';
import { SENSOR_EVENT_TYPES, Sensor, type SensorCounters } from '@palisade/sensor';

export interface Detection {
  ruleId: string;
  containerId: string;
  /** Time of the triggering event, ms since the epoch. */
  eventTimeMs: number;
  /** When this process learnt of the alert, ms since the epoch. */
  detectedAtMs: number;
}

export interface Detector {
  /** `local`, or the server URL. */
  readonly mode: string;
  /** Event types the sensor behind this detector produces. */
  readonly supportedTypes: readonly string[];
  /**
   * Alerts of `ruleIds` raised on `containerId` since `since`, waiting up to `timeoutMs` for
   * the missing ones. Returns what was found (possibly not all).
   */
  awaitDetections(
    containerId: string,
    ruleIds: readonly string[],
    since: Date,
    timeoutMs: number,
  ): Promise<Detection[]>;
  /** Stops whatever runs; returns lines worth showing (counters, drops). */
  close(): Promise<string[]>;
}

function pick(found: readonly Detection[], ruleIds: readonly string[]): Detection[] {
  const out: Detection[] = [];
  for (const r of ruleIds) {
    const d = found.find((x) => x.ruleId === r);
    if (d) out.push(d);
  }
  return out;
}

// ------------------------------------------------------------------------------------ local

export interface LocalDetectorOptions {
  engine: RuleEngine;
  /** Formats the final counters (the CLI's `sensor collect` summary). */
  formatCounters: (c: SensorCounters, alerts: number) => string;
  now?: () => number;
}

export class LocalDetector implements Detector {
  readonly mode = 'local';
  readonly supportedTypes: readonly string[] = SENSOR_EVENT_TYPES;
  private readonly byContainer = new Map<string, Detection[]>();
  private alerts = 0;
  private readonly consumed: Promise<void>;
  private readonly now: () => number;

  private constructor(
    private readonly sensor: Sensor,
    private readonly opts: LocalDetectorOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.consumed = this.consume();
  }

  static async start(opts: LocalDetectorOptions): Promise<LocalDetector> {
    let sensor: Sensor;
    try {
      // Containers only: the scenarios all run in one, and host noise stays in the kernel.
      sensor = await Sensor.start({ mode: 'container', countersIntervalMs: 0, queueCapacity: 1 << 16 });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new PalisadeError('E_CONFIG', `cannot start the sensor: ${msg.replace(/\s+/g, ' ').trim()}`, {
        subject: 'simulate',
        cause: err,
      });
    }
    return new LocalDetector(sensor, opts);
  }

  private async consume(): Promise<void> {
    for await (const ev of this.sensor.events()) {
      const cid = ev.container?.id;
      for (const a of this.opts.engine.evaluate(ev)) {
        this.alerts++;
        if (!cid) continue;
        const list = this.byContainer.get(cid) ?? [];
        list.push({ ruleId: a.ruleId, containerId: cid, eventTimeMs: Date.parse(a.time), detectedAtMs: this.now() });
        this.byContainer.set(cid, list);
      }
    }
  }

  async awaitDetections(
    containerId: string,
    ruleIds: readonly string[],
    _since: Date,
    timeoutMs: number,
  ): Promise<Detection[]> {
    const deadline = Date.now() + timeoutMs;
    // The loader answers a counters request only after draining the ring buffer, and every
    // event is written there inside the syscall that caused it: once the queue is empty too,
    // everything the container did has been evaluated.
    await this.sensor.requestCounters();
    while (this.sensor.counters().queued > 0 && Date.now() < deadline) await nextTurn();
    await nextTurn();
    for (;;) {
      const found = pick(this.byContainer.get(containerId) ?? [], ruleIds);
      if (found.length === ruleIds.length || Date.now() >= deadline || this.sensor.loaderExitCode !== undefined)
        return found;
      await sleep(20);
    }
  }

  async close(): Promise<string[]> {
    const counters = await this.sensor.stop();
    await this.consumed;
    const lines = this.opts.formatCounters(counters, this.alerts).trimEnd().split('\n');
    if (this.sensor.streamError !== undefined) lines.push(`sensor stream broken: ${this.sensor.streamError}`);
    return lines;
  }
}

// ----------------------------------------------------------------------------------- server

export interface ServerDetectorOptions {
  url: string;
  token: string;
  ca?: Buffer;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
  now?: () => number;
}

/** One alert as `GET /api/v1/alerts` lists it (the fields used here). */
interface AlertRecord {
  ruleId: string;
  containerId: string | null;
  time: string;
}

export class ServerDetector implements Detector {
  readonly mode: string;
  // The node's collector is this release's sensor: the same event types.
  readonly supportedTypes: readonly string[] = SENSOR_EVENT_TYPES;
  private readonly base: URL;
  private readonly now: () => number;

  constructor(private readonly opts: ServerDetectorOptions) {
    let base: URL;
    try {
      base = new URL(opts.url);
    } catch {
      throw new PalisadeError('E_INPUT', 'not a URL', { subject: opts.url });
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:')
      throw new PalisadeError('E_INPUT', 'the server URL must be http:// or https://', { subject: opts.url });
    this.base = base;
    this.mode = base.origin;
    this.now = opts.now ?? Date.now;
  }

  private get(path: string, query: Record<string, string>): Promise<unknown> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          headers: { authorization: `Bearer ${this.opts.token}`, accept: 'application/json' },
          timeout: this.opts.requestTimeoutMs ?? 10_000,
          ...(this.opts.ca ? { ca: this.opts.ca } : {}),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (body.length < 8 << 20) body += d;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status === 401 || status === 403) {
              reject(
                new PalisadeError('E_AUTH', `the server refused the token (HTTP ${status}); a reader token is needed`, {
                  subject: url.origin,
                }),
              );
            } else if (status !== 200) {
              reject(
                new PalisadeError('E_NETWORK', `GET ${url.pathname} answered HTTP ${status}`, { subject: url.origin }),
              );
            } else {
              try {
                resolve(JSON.parse(body));
              } catch {
                reject(
                  new PalisadeError('E_NETWORK', `GET ${url.pathname} did not answer JSON`, { subject: url.origin }),
                );
              }
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', (e) => {
        if (e instanceof PalisadeError) reject(e);
        else
          reject(
            new PalisadeError('E_NETWORK', `cannot reach the server: ${e.message}`, { subject: url.origin, cause: e }),
          );
      });
      req.end();
    });
  }

  private async alertsOf(ruleId: string, since: Date): Promise<AlertRecord[]> {
    const body = await this.get('/api/v1/alerts', { ruleId, from: since.toISOString(), limit: '500' });
    const items = (body as { items?: unknown }).items;
    if (!Array.isArray(items))
      throw new PalisadeError('E_NETWORK', 'GET /api/v1/alerts did not answer a page of alerts', {
        subject: this.mode,
      });
    return items as AlertRecord[];
  }

  async awaitDetections(
    containerId: string,
    ruleIds: readonly string[],
    since: Date,
    timeoutMs: number,
  ): Promise<Detection[]> {
    const deadline = this.now() + timeoutMs;
    // Event times come from the node's clock: look a little before the scenario started.
    const from = new Date(since.getTime() - 5_000);
    const found: Detection[] = [];
    for (;;) {
      for (const ruleId of ruleIds) {
        if (found.some((d) => d.ruleId === ruleId)) continue;
        const hit = (await this.alertsOf(ruleId, from)).find((a) => a.containerId === containerId);
        if (hit) found.push({ ruleId, containerId, eventTimeMs: Date.parse(hit.time), detectedAtMs: this.now() });
      }
      if (found.length === ruleIds.length || this.now() >= deadline) return pick(found, ruleIds);
      await sleep(this.opts.pollIntervalMs ?? 1_000);
    }
  }

  close(): Promise<string[]> {
    return Promise.resolve([]);
  }
}
