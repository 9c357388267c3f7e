/**
 * Watches: the API server's stream of changes to a collection (`?watch=1`), one JSON event per
 * line over a chunked response, read as an async iterator. And `listAndWatch`, an informer in
 * small: list, then watch from the list's resourceVersion, resume after the server ends a
 * watch, relist when the resourceVersion is gone (410), keep a bounded cache.
 * Every wait is bounded: an idle stream times out, reconnects are counted and backed off.
 */
import type { IncomingMessage } from 'node:http';
import { PalisadeError } from '@palisade/core';
import type { KubeClient, KubeObject, ListResult } from './client.js';
import { GoneError } from './gone.js';
import { SNAPSHOT_KINDS, type KindSpec } from './snapshot.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  /** The object; for ERROR a Kubernetes Status; for BOOKMARK only metadata.resourceVersion. */
  object: KubeObject;
}

export interface WatchOptions {
  /** Only this namespace (default: all namespaces). */
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Start after this version (from a list, or the last event seen). */
  resourceVersion?: string;
  /** Ask for BOOKMARK events so a resume point is known in quiet times (default true). */
  allowWatchBookmarks?: boolean;
  /** The server ends the watch after this long (default 300 s); the iterator then ends. */
  timeoutSeconds?: number;
  /** No byte for this long means the connection is dead (default timeoutSeconds + 30 s). */
  idleTimeoutMs?: number;
  /** Largest accepted event line (default 16 MiB). */
  maxLineBytes?: number;
  signal?: AbortSignal;
}

/** Kinds Palisade watches: those a snapshot lists, plus core/v1 Events. */
export const WATCH_KINDS: readonly KindSpec[] = [
  ...SNAPSHOT_KINDS,
  { apiVersion: 'v1', kind: 'Event', resource: 'events', namespaced: true },
];

/** A kind by name (`Pod`, `Event`) or a spec; secrets are refused. */
export function watchKind(kind: string | KindSpec): KindSpec {
  if (typeof kind !== 'string') return kind;
  const k = kind.toLowerCase();
  if (k === 'secret' || k === 'secrets')
    throw new PalisadeError('E_INPUT', 'Palisade never reads secrets', { subject: 'watch' });
  const spec = WATCH_KINDS.find((s) => s.kind.toLowerCase() === k || s.resource === k);
  if (!spec)
    throw new PalisadeError('E_INPUT', `unknown kind ${kind} (known: ${WATCH_KINDS.map((s) => s.kind).join(', ')})`, {
      subject: 'watch',
    });
  return spec;
}

/** The collection URL of a kind, in one namespace or all of them. */
export function collectionPath(spec: KindSpec, namespace?: string): string {
  const base = spec.apiVersion === 'v1' ? '/api/v1' : `/apis/${spec.apiVersion}`;
  if (namespace !== undefined && spec.namespaced)
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${spec.resource}`;
  return `${base}/${spec.resource}`;
}

const EVENT_TYPES = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/**
 * Watch a collection. Yields events until the server ends the watch (its timeoutSeconds) or
 * `signal` aborts. Throws GoneError (E_NETWORK, 410) when the resourceVersion is too old —
 * the caller must relist —, E_TIMEOUT when the stream goes silent, E_NETWORK when it is cut,
 * E_CORRUPT on a line that is not a watch event.
 */
export async function* watch(
  client: KubeClient,
  kind: string | KindSpec,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent> {
  const spec = watchKind(kind);
  const timeoutSeconds = options.timeoutSeconds ?? 300;
  const q = new URLSearchParams({ watch: '1' });
  if (options.allowWatchBookmarks ?? true) q.set('allowWatchBookmarks', 'true');
  if (options.resourceVersion !== undefined) q.set('resourceVersion', options.resourceVersion);
  q.set('timeoutSeconds', String(timeoutSeconds));
  if (options.fieldSelector) q.set('fieldSelector', options.fieldSelector);
  if (options.labelSelector) q.set('labelSelector', options.labelSelector);
  const resource = `watch ${spec.resource}`;
  const subject = `cluster ${client.cluster}: ${resource}`;
  const res = await client.openStream(
    `${collectionPath(spec, options.namespace)}?${q.toString()}`,
    resource,
    options.signal,
  );
  try {
    yield* readEvents(res, {
      subject,
      idleMs: options.idleTimeoutMs ?? (timeoutSeconds + 30) * 1000,
      maxLine: options.maxLineBytes ?? 16 * 1024 * 1024,
      signal: options.signal,
    });
  } finally {
    res.destroy();
  }
}

interface ReadLimits {
  subject: string;
  idleMs: number;
  maxLine: number;
  signal: AbortSignal | undefined;
}

/** Newline-delimited JSON events from a response, with an idle deadline per chunk. */
async function* readEvents(res: IncomingMessage, limits: ReadLimits): AsyncGenerator<WatchEvent> {
  let buffered: Buffer[] = [];
  let size = 0;
  let lineNo = 0;
  for (;;) {
    const chunk = await nextChunk(res, limits);
    if (chunk === undefined) break;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      const line = buffered.length > 0 ? Buffer.concat([...buffered, part]) : part;
      buffered = [];
      size = 0;
      start = nl + 1;
      lineNo++;
      const event = parseEvent(line, lineNo, limits.subject);
      if (event !== undefined) yield event;
    }
    const rest = chunk.subarray(start);
    size += rest.length;
    if (size > limits.maxLine)
      throw new PalisadeError('E_TOO_LARGE', `watch event larger than ${limits.maxLine} bytes`, {
        subject: limits.subject,
      });
    if (rest.length > 0) buffered.push(Buffer.from(rest));
  }
  if (size > 0) {
    const event = parseEvent(Buffer.concat(buffered), lineNo + 1, limits.subject);
    if (event !== undefined) yield event;
  }
}

/** The next chunk of the stream, undefined at its normal end; rejects when cut, silent or aborted. */
function nextChunk(res: IncomingMessage, limits: ReadLimits): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      res.off('readable', onReadable);
      res.off('end', onEnd);
      res.off('close', onClose);
      res.off('error', onError);
      limits.signal?.removeEventListener('abort', onAbort);
    };
    const tryRead = (): boolean => {
      const chunk = res.read() as Buffer | null;
      if (chunk === null) return false;
      cleanup();
      resolve(chunk);
      return true;
    };
    const onReadable = (): void => void tryRead();
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onClose = (): void => {
      if (res.readableEnded) return onEnd();
      cleanup();
      reject(new PalisadeError('E_NETWORK', 'API server closed the watch mid-stream', { subject: limits.subject }));
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      cleanup();
      reject(new PalisadeError('E_NETWORK', `watch failed: ${err.code ?? err.message}`, { subject: limits.subject }));
    };
    const onAbort = (): void => {
      cleanup();
      resolve(undefined);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new PalisadeError('E_TIMEOUT', `watch silent for ${limits.idleMs} ms`, { subject: limits.subject }));
    }, limits.idleMs);
    if (limits.signal?.aborted) return onAbort();
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    res.on('readable', onReadable);
    res.on('end', onEnd);
    res.on('close', onClose);
    res.on('error', onError);
    if (!tryRead() && res.readableEnded) onEnd();
  });
}

function parseEvent(line: Buffer, lineNo: number, subject: string): WatchEvent | undefined {
  const text = line.toString('utf8').trim();
  if (text === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new PalisadeError('E_CORRUPT', `watch event ${lineNo} is not JSON`, { subject });
  }
  const e = v as { type?: unknown; object?: unknown };
  if (
    typeof e.type !== 'string' ||
    !EVENT_TYPES.has(e.type as WatchEventType) ||
    typeof e.object !== 'object' ||
    e.object === null
  )
    throw new PalisadeError('E_CORRUPT', `watch event ${lineNo} has no known type and object`, { subject });
  const event: WatchEvent = { type: e.type as WatchEventType, object: e.object as KubeObject };
  if (event.type === 'ERROR' && event.object['code'] === 410) {
    const message = typeof event.object['message'] === 'string' ? `: ${event.object['message']}` : '';
    throw new GoneError('E_NETWORK', `resource version expired (HTTP 410 Gone)${message}`, { subject });
  }
  return event;
}

// ---------------------------------------------------------------- listAndWatch

export type InformerEvent =
  /** A (re)list: the cache now holds exactly these objects. */
  | { type: 'SYNC'; objects: readonly KubeObject[]; resourceVersion: string | undefined }
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject };

export interface ListAndWatchOptions {
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  pageSize?: number;
  /** Most objects kept in the cache; the oldest are dropped past it (default 10 000). */
  maxCached?: number;
  /** Server-side length of one watch (default 300 s). */
  timeoutSeconds?: number;
  idleTimeoutMs?: number;
  /** Consecutive failed watches or lists before giving up (default 5). */
  maxFailures?: number;
  /** Wait before reconnecting after a failure, doubled each time up to 30 s (default 1 s). */
  backoffMs?: number;
  signal?: AbortSignal;
  /** Called on every failure that is retried (for logs and counters). */
  onRetry?: (err: PalisadeError, attempt: number) => void;
}

/** The objects an informer knows, by uid (or namespace/name), bounded. */
export class InformerCache {
  private readonly objects = new Map<string, KubeObject>();
  /** Objects dropped because the cache was full. */
  evicted = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.objects.size;
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }

  values(): IterableIterator<KubeObject> {
    return this.objects.values();
  }

  replace(objects: readonly KubeObject[]): void {
    this.objects.clear();
    for (const o of objects) this.put(o);
  }

  put(o: KubeObject): void {
    const key = objectKey(o);
    this.objects.delete(key); // re-inserted last: eviction drops the least recently written
    this.objects.set(key, o);
    while (this.objects.size > this.limit) {
      const oldest = this.objects.keys().next().value as string;
      this.objects.delete(oldest);
      this.evicted++;
    }
  }

  remove(o: KubeObject): void {
    this.objects.delete(objectKey(o));
  }
}

function meta(o: KubeObject): Record<string, unknown> {
  const m = o['metadata'];
  return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : {};
}

/** uid, or namespace/name for objects without one. */
export function objectKey(o: KubeObject): string {
  const m = meta(o);
  if (typeof m['uid'] === 'string' && m['uid'] !== '') return m['uid'];
  return `${typeof m['namespace'] === 'string' ? m['namespace'] : ''}/${typeof m['name'] === 'string' ? m['name'] : ''}`;
}

function resourceVersionOf(o: KubeObject): string | undefined {
  const rv = meta(o)['resourceVersion'];
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * List a kind, then follow its changes until `signal` aborts: yields SYNC after every
 * (re)list and each change after it, keeping `cache` current. A watch the server ends is
 * resumed from the last resourceVersion seen (bookmarks included); 410 Gone relists; other
 * failures are retried with backoff and give up after `maxFailures` in a row.
 */
export async function* listAndWatch(
  client: KubeClient,
  kind: string | KindSpec,
  options: ListAndWatchOptions = {},
  cache: InformerCache = new InformerCache(options.maxCached ?? 10_000),
): AsyncGenerator<InformerEvent> {
  const spec = watchKind(kind);
  const maxFailures = options.maxFailures ?? 5;
  let failures = 0;
  let resourceVersion: string | undefined;
  let needList = true;
  const selectors = new URLSearchParams();
  if (options.fieldSelector) selectors.set('fieldSelector', options.fieldSelector);
  if (options.labelSelector) selectors.set('labelSelector', options.labelSelector);
  while (!options.signal?.aborted) {
    try {
      if (needList) {
        const q = selectors.toString();
        let listed: ListResult | undefined = await client.list(
          `${collectionPath(spec, options.namespace)}${q ? `?${q}` : ''}`,
          { ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}), maxObjects: cache.limit * 10 },
          spec.resource,
        );
        let sync: InformerEvent | undefined = {
          type: 'SYNC',
          objects: listed.items.map((o) => ({ apiVersion: spec.apiVersion, kind: spec.kind, ...o })),
          resourceVersion: listed.resourceVersion,
        };
        // A suspended generator keeps its locals: without these resets the whole list stayed
        // reachable for as long as the watch ran (the list's objects, twice: a Pod list of a
        // large cluster is tens of MB), whatever the cache and the consumer kept.
        listed = undefined;
        cache.replace(sync.objects);
        resourceVersion = sync.resourceVersion;
        needList = false;
        yield sync;
        sync = undefined;
      }
      const events = watch(client, spec, {
        ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
        ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
        ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
        ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
        ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      let seen = 0;
      for await (const e of events) {
        failures = 0;
        seen++;
        resourceVersion = resourceVersionOf(e.object) ?? resourceVersion;
        if (e.type === 'BOOKMARK' || e.type === 'ERROR') continue;
        const object = { apiVersion: spec.apiVersion, kind: spec.kind, ...e.object };
        if (e.type === 'DELETED') cache.remove(object);
        else cache.put(object);
        yield { type: e.type, object };
      }
      // The server ended the watch (its timeout): resume from the last version. One that ended
      // with nothing at all is resumed after a pause, so a server ending watches at once is not
      // asked again in a tight loop.
      if (seen === 0) await sleep(options.backoffMs ?? 1000, options.signal);
    } catch (err) {
      if (options.signal?.aborted) return;
      const e = err instanceof PalisadeError ? err : new PalisadeError('E_INTERNAL', String(err));
      if (e.code === 'E_AUTH' || e.code === 'E_INPUT' || e.code === 'E_NOT_FOUND') throw e;
      if (err instanceof GoneError) needList = true;
      failures++;
      if (failures > maxFailures) throw e;
      options.onRetry?.(e, failures);
      if (!(err instanceof GoneError)) {
        const wait = Math.min(30_000, (options.backoffMs ?? 1000) * 2 ** (failures - 1));
        await sleep(wait, options.signal);
      }
    }
  }
}
