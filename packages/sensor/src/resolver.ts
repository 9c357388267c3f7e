/**
 * Container attribution beyond the id: which container (name, image, image digest,
 * privileged) and, under Kubernetes, which pod, namespace and workload. The kernel only
 * gives the cgroup path (→ container id, src/cgroup.ts); the rest comes from the container
 * runtime's API or on-disk state, or from the Kubernetes API. Lookups are asynchronous and
 * may fail, so they sit behind a cache with a TTL for answers and a shorter one for
 * misses (a container that just started may not be visible yet), and an event whose
 * container cannot be resolved keeps its id with `resolved: false`.
 */
import type { ContainerContext, KubernetesContext, RuntimeEvent } from '@palisade/core';
import type { ContainerMetadata, ContainerResolver } from './convert.js';

/** What a resolver knows about one container. */
export interface ResolvedContainer {
  id: string;
  name: string;
  image: string;
  /** `sha256:…` of the image (repo digest when the runtime knows one, else the image id). */
  imageDigest: string;
  runtime: string;
  privileged?: boolean;
  k8s?: KubernetesContext;
  /** Id of the resolver that answered (`podman`, `docker`, `kubernetes`, …). */
  source: string;
}

/** Hints from the cgroup path: which runtime made the cgroup, the pod UID under kubelet. */
export interface ResolveHint {
  /** A ContainerRuntimeName, or the runtime an event already names. */
  runtime?: string;
  podUid?: string;
}

/**
 * One source of container metadata. `resolve` answers `undefined` when this source does
 * not know the container (or is not available on this node) and never throws for that;
 * it may throw a PalisadeError for a source that is configured but broken (bad answer),
 * which the chain counts and skips.
 */
export interface ContainerContextResolver {
  readonly id: string;
  resolve(containerId: string, hint?: ResolveHint): Promise<ResolvedContainer | undefined>;
  close?(): void;
}

export interface ResolverStats {
  hits: number;
  misses: number;
  negativeHits: number;
  lookups: number;
  resolved: number;
  unresolved: number;
  errors: number;
  lastError?: string;
  size: number;
}

export interface CachedResolverOptions {
  /** Entries kept (least recently used evicted first). Default 4096. */
  maxEntries?: number;
  /** How long an answer is reused. Default 5 min: names and images of a container do not change. */
  ttlMs?: number;
  /** How long "unknown" is reused before asking again. Default 10 s. */
  negativeTtlMs?: number;
  /** Injectable clock (ms). */
  now?: () => number;
}

interface Entry {
  value: ResolvedContainer | undefined;
  expires: number;
}

/**
 * A resolver with an LRU/TTL cache, negative caching and one lookup in flight per id.
 * `lookup` answers from the cache only (synchronous, for the decoder's hot path);
 * `resolve` asks the underlying resolver on a miss.
 */
export class CachedResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<ResolvedContainer | undefined>>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly now: () => number;
  private readonly counters = {
    hits: 0,
    misses: 0,
    negativeHits: 0,
    lookups: 0,
    resolved: 0,
    unresolved: 0,
    errors: 0,
  };
  private lastError: string | undefined;

  constructor(
    readonly inner: ContainerContextResolver,
    opts: CachedResolverOptions = {},
  ) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 4096);
    this.ttlMs = opts.ttlMs ?? 300_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Cache only: the answer, `null` for a cached miss, `undefined` when not cached (or expired). */
  lookup(containerId: string): ResolvedContainer | null | undefined {
    const e = this.entries.get(containerId);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(containerId);
      return undefined;
    }
    // Re-insert: Map order is the LRU order.
    this.entries.delete(containerId);
    this.entries.set(containerId, e);
    return e.value ?? null;
  }

  async resolve(containerId: string, hint?: ResolveHint): Promise<ResolvedContainer | undefined> {
    const cached = this.lookup(containerId);
    if (cached !== undefined) {
      if (cached === null) this.counters.negativeHits++;
      else this.counters.hits++;
      return cached ?? undefined;
    }
    this.counters.misses++;
    const running = this.inflight.get(containerId);
    if (running) return running;
    const p = this.fetch(containerId, hint).finally(() => this.inflight.delete(containerId));
    this.inflight.set(containerId, p);
    return p;
  }

  private async fetch(containerId: string, hint: ResolveHint | undefined): Promise<ResolvedContainer | undefined> {
    this.counters.lookups++;
    let value: ResolvedContainer | undefined;
    try {
      value = await this.inner.resolve(containerId, hint);
    } catch (err) {
      this.counters.errors++;
      this.lastError = err instanceof Error ? err.message : String(err);
      value = undefined;
    }
    if (value) this.counters.resolved++;
    else this.counters.unresolved++;
    this.store(containerId, value);
    return value;
  }

  private store(containerId: string, value: ResolvedContainer | undefined): void {
    this.entries.delete(containerId);
    this.entries.set(containerId, { value, expires: this.now() + (value ? this.ttlMs : this.negativeTtlMs) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Forget one container (it exited) or everything. */
  invalidate(containerId?: string): void {
    if (containerId === undefined) this.entries.clear();
    else this.entries.delete(containerId);
  }

  stats(): ResolverStats {
    return {
      ...this.counters,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      size: this.entries.size,
    };
  }

  /**
   * The synchronous resolver `Sensor.start({resolveContainer})` takes: answers from the
   * cache and, on a miss, starts a lookup so later events of the container are resolved.
   */
  syncResolver(): ContainerResolver {
    return (a) => {
      const hit = this.lookup(a.id);
      if (hit === undefined) {
        void this.resolve(a.id, { runtime: a.runtime, ...(a.podUid ? { podUid: a.podUid } : {}) });
        return undefined;
      }
      if (hit === null) return undefined;
      const meta: ContainerMetadata = { name: hit.name, image: hit.image, imageDigest: hit.imageDigest };
      if (hit.privileged !== undefined) meta.privileged = hit.privileged;
      return meta;
    };
  }

  close(): void {
    this.inner.close?.();
  }
}

/** Asks resolvers in order; the first answer wins. Errors of one resolver do not stop the chain. */
export class ChainResolver implements ContainerContextResolver {
  readonly id = 'chain';
  readonly errors: { resolver: string; message: string }[] = [];

  constructor(private readonly resolvers: readonly ContainerContextResolver[]) {}

  async resolve(containerId: string, hint?: ResolveHint): Promise<ResolvedContainer | undefined> {
    for (const r of this.resolvers) {
      try {
        const v = await r.resolve(containerId, hint);
        if (v) return v;
      } catch (err) {
        // Kept bounded: the last 32 errors are enough to tell what is broken.
        this.errors.push({ resolver: r.id, message: err instanceof Error ? err.message : String(err) });
        if (this.errors.length > 32) this.errors.shift();
      }
    }
    return undefined;
  }

  close(): void {
    for (const r of this.resolvers) r.close?.();
  }
}

/** The container context of an event from a resolver's answer (or the id alone, unresolved). */
export function containerContextOf(current: ContainerContext, r: ResolvedContainer | undefined): ContainerContext {
  if (!r) return { ...current, resolved: false };
  const c: ContainerContext = {
    id: current.id,
    name: r.name,
    image: r.image,
    imageDigest: r.imageDigest,
    // The cgroup says who made the container (podman, cri-o…); keep it unless it was unknown.
    runtime: current.runtime && current.runtime !== 'unknown' ? current.runtime : r.runtime,
    resolved: true,
  };
  const privileged = r.privileged ?? current.privileged;
  if (privileged !== undefined) c.privileged = privileged;
  return c;
}

/**
 * Fills an event's container (and Kubernetes) context. Events without a container (host
 * processes, audit events) come back unchanged; an unresolved container keeps its id
 * with `resolved: false`. Returns a new event object; the input is not modified.
 */
export async function enrichEvent<E extends RuntimeEvent>(event: E, resolver: CachedResolver): Promise<E> {
  const c = event.container;
  if (!c || c.id === '') return event;
  const r = await resolver.resolve(c.id, { runtime: c.runtime });
  const out: E = { ...event, container: containerContextOf(c, r) };
  if (r?.k8s) out.k8s = { ...r.k8s };
  return out;
}

/**
 * An async pipeline stage: events in, enriched events out, in order. Cache hits cost no
 * I/O; a miss waits for the lookup (bounded by the resolvers' timeouts).
 */
export async function* enrichStage<E extends RuntimeEvent>(
  events: AsyncIterable<E>,
  resolver: CachedResolver,
): AsyncGenerator<E> {
  for await (const e of events) yield await enrichEvent(e, resolver);
}
