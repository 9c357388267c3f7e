/**
 * Container attribution for `palisade sensor collect`: which resolvers to ask (`--resolver`),
 * and an enrichment stage that never holds the event path for long.
 *
 * Why bounded: the collector evaluates events one at a time, so an event waiting for a slow
 * runtime API (a `podman container inspect` takes ≈80 ms here, seconds on a loaded node, a
 * Kubernetes relist more) holds every event behind it, and the sensor's queue drops once it
 * is full. So:
 * - a cache hit (every event of a known container) costs no I/O and no wait;
 * - on a miss one lookup starts per container, at most `maxPending` at a time (beyond that the
 *   event goes on unresolved and a later event of the container starts the lookup);
 * - an event waits for its container's lookup at most `waitMs` (default 200 ms), and that
 *   budget is per lookup, not per event: once a container's lookup has used its budget, its
 *   other events do not wait at all;
 * - waiting is also capped per second (`maxWaitShare`, default 25 %): a burst of new containers
 *   costs the event path at most 250 ms a second, whatever the resolvers do.
 * An event that was not resolved in time keeps its container id with `resolved: false`. Its
 * alerts are the ones that matter later, so they are held (not the event path) until the
 * lookup finishes, at most `alertHoldMs` (default 2 s, `maxHeldAlerts` at a time), and their
 * events are then filled in: the server gets the image even when the runtime answered late.
 */
import { existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import {
  PalisadeError,
  type Alert,
  type ContainerContext,
  type RuntimeEvent,
  type SensorCounterDelta,
} from '@palisade/core';
import { KubeClient, inClusterConfig, isInCluster, loadKubeconfig } from '@palisade/kube';
import {
  CachedResolver,
  ChainResolver,
  ContainerdStateResolver,
  CrioStateResolver,
  DOCKER_SOCKET,
  DockerResolver,
  KubernetesResolver,
  PODMAN_SOCKET,
  PodmanResolver,
  containerContextOf,
  singleMetric,
  type CollectorSink,
  type ContainerContextResolver,
  type MetricFamily,
  type ResolvedContainer,
  type TransportItem,
} from '@palisade/sensor';

export const RESOLVER_CHOICES = ['auto', 'kubernetes', 'podman', 'docker', 'oci-state', 'none'] as const;
export type ResolverChoice = (typeof RESOLVER_CHOICES)[number];

export interface ResolverSetupOptions {
  choice: ResolverChoice;
  /** Where the host's /run is seen (`/` on the host, `/host` in a pod that mounts it there). */
  runtimeRoot: string;
  kubeconfig?: string;
  /** The Kubernetes node name (--node, $NODE_NAME); required for the Kubernetes resolver. */
  nodeName?: string;
  env: NodeJS.ProcessEnv;
  /** Is `podman` on PATH (its CLI answers when no podman service socket runs)? */
  podmanCli: boolean;
  log: (line: string) => void;
}

export interface ResolverSetup {
  resolver: CachedResolver | undefined;
  /** Resolver ids in the order they are asked, for the start line. */
  sources: string[];
  kubernetes?: KubernetesResolver;
}

const SUBJECT = '--resolver';

function kubeClient(o: ResolverSetupOptions): KubeClient | undefined {
  if (o.kubeconfig !== undefined) return new KubeClient(loadKubeconfig({ kubeconfig: o.kubeconfig, env: o.env }));
  if (isInCluster(o.env)) return new KubeClient(inClusterConfig({ env: o.env }));
  return undefined;
}

function kubernetesResolver(o: ResolverSetupOptions, required: boolean): KubernetesResolver | undefined {
  const client = kubeClient(o);
  if (!client || !o.nodeName) {
    if (!required) return undefined;
    throw new PalisadeError(
      'E_INPUT',
      client
        ? 'the Kubernetes resolver needs the node name: pass --node or set NODE_NAME'
        : 'the Kubernetes resolver needs --kubeconfig FILE or to run in a pod (KUBERNETES_SERVICE_HOST)',
      { subject: SUBJECT },
    );
  }
  return new KubernetesResolver({ client, nodeName: o.nodeName });
}

function at(root: string, path: string): string {
  return join(root, path);
}

/** The runtime resolvers whose sockets or state directories exist under `runtimeRoot`. */
function presentRuntimes(o: ResolverSetupOptions): ContainerContextResolver[] {
  const out: ContainerContextResolver[] = [];
  const podmanSocket = at(o.runtimeRoot, PODMAN_SOCKET);
  if (existsSync(podmanSocket) || o.podmanCli)
    out.push(new PodmanResolver({ socketPath: podmanSocket, useCli: o.podmanCli }));
  const dockerSocket = at(o.runtimeRoot, DOCKER_SOCKET);
  if (existsSync(dockerSocket)) out.push(new DockerResolver({ socketPath: dockerSocket }));
  out.push(...ociState(o, false));
  return out;
}

function ociState(o: ResolverSetupOptions, all: boolean): ContainerContextResolver[] {
  const out: ContainerContextResolver[] = [];
  const taskRoot = at(o.runtimeRoot, '/run/containerd/io.containerd.runtime.v2.task');
  const crioRoot = at(o.runtimeRoot, '/run/containers/storage');
  if (all || existsSync(taskRoot)) out.push(new ContainerdStateResolver({ taskRoot }));
  if (all || existsSync(join(crioRoot, 'overlay-containers'))) out.push(new CrioStateResolver({ runRoot: crioRoot }));
  return out;
}

/** Builds the resolver chain `--resolver` asks for (undefined for `none`, or `auto` with nothing on this node). */
export function setupResolver(o: ResolverSetupOptions): ResolverSetup {
  let kubernetes: KubernetesResolver | undefined;
  let chain: ContainerContextResolver[];
  switch (o.choice) {
    case 'none':
      return { resolver: undefined, sources: [] };
    case 'kubernetes':
      kubernetes = kubernetesResolver(o, true);
      chain = kubernetes ? [kubernetes] : [];
      break;
    case 'podman':
      chain = [new PodmanResolver({ socketPath: at(o.runtimeRoot, PODMAN_SOCKET), useCli: o.podmanCli })];
      break;
    case 'docker':
      chain = [new DockerResolver({ socketPath: at(o.runtimeRoot, DOCKER_SOCKET) })];
      break;
    case 'oci-state':
      chain = ociState(o, true);
      break;
    case 'auto':
      kubernetes = kubernetesResolver(o, false);
      // Kubernetes first (pod, namespace, workload), then the node's own runtimes.
      chain = [...(kubernetes ? [kubernetes] : []), ...presentRuntimes(o)];
      break;
  }
  if (chain.length === 0) return { resolver: undefined, sources: [] };
  const inner = chain.length === 1 ? chain[0]! : new ChainResolver(chain);
  return {
    resolver: new CachedResolver(inner),
    sources: chain.map((r) => r.id),
    ...(kubernetes ? { kubernetes } : {}),
  };
}

// ------------------------------------------------------------------------- bounded enrichment

export interface AttributionOptions {
  /** Longest an event waits for its container's lookup (default 200 ms). */
  waitMs?: number;
  /** Lookups in flight at once (default 64). */
  maxPending?: number;
  /** Share of each second the event path may spend waiting (default 0.25). */
  maxWaitShare?: number;
  /** Longest an alert on an unresolved container is held for its lookup (default 2000 ms). */
  alertHoldMs?: number;
  /** Alerts held at once (default 1000; beyond, they go on unresolved). */
  maxHeldAlerts?: number;
  now?: () => number;
}

export interface AttributionStats {
  resolvedInTime: number;
  /** Events that went on unresolved because their lookup took longer than the budget. */
  waitTimeouts: number;
  /** Events that did not wait: the container's budget was used, or the per-second cap reached. */
  notWaited: number;
  /** Misses that started no lookup because `maxPending` were in flight. */
  pendingFull: number;
  alertsHeld: number;
  alertsFilledLate: number;
  alertsSentUnresolved: number;
  waitedMs: number;
}

interface Pending {
  promise: Promise<ResolvedContainer | undefined>;
  deadline: number;
  settled: boolean;
}

const TIMED_OUT = Symbol('timed out');

function delay(ms: number): { promise: Promise<typeof TIMED_OUT>; cancel: () => void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<typeof TIMED_OUT>((resolve) => {
    t = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return { promise, cancel: () => clearTimeout(t) };
}

/** The event with the container (and pod) context of `r`; unresolved keeps the id. */
export function withContainer<E extends RuntimeEvent>(ev: E, r: ResolvedContainer | undefined): E {
  const c = ev.container;
  if (!c) return ev;
  const out: E = { ...ev, container: containerContextOf(c, r) };
  if (r?.k8s) out.k8s = { ...r.k8s };
  return out;
}

function unresolvedContainer(ev: RuntimeEvent): ContainerContext | undefined {
  const c = ev.container;
  return c && c.id !== '' && !c.resolved ? c : undefined;
}

export class Attribution {
  private readonly pending = new Map<string, Pending>();
  private readonly waitMs: number;
  private readonly maxPending: number;
  private readonly waitBudgetPerSecond: number;
  private readonly alertHoldMs: number;
  private readonly maxHeldAlerts: number;
  private readonly now: () => number;
  private windowStart = 0;
  private waitedInWindow = 0;
  private held = 0;
  private readonly holds = new Set<Promise<void>>();
  private readonly s: AttributionStats = {
    resolvedInTime: 0,
    waitTimeouts: 0,
    notWaited: 0,
    pendingFull: 0,
    alertsHeld: 0,
    alertsFilledLate: 0,
    alertsSentUnresolved: 0,
    waitedMs: 0,
  };

  constructor(
    readonly resolver: CachedResolver,
    /** Resolver ids in the order they are asked. */
    readonly sources: readonly string[],
    opts: AttributionOptions = {},
  ) {
    this.waitMs = opts.waitMs ?? 200;
    this.maxPending = opts.maxPending ?? 64;
    this.waitBudgetPerSecond = 1000 * (opts.maxWaitShare ?? 0.25);
    this.alertHoldMs = opts.alertHoldMs ?? 2000;
    this.maxHeldAlerts = opts.maxHeldAlerts ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** The lookup of a container: the running one, or a new one when fewer than maxPending run. */
  private lookup(c: ContainerContext): Pending | undefined {
    const running = this.pending.get(c.id);
    if (running) return running;
    if (this.pending.size >= this.maxPending) {
      this.s.pendingFull++;
      return undefined;
    }
    const p: Pending = {
      promise: this.resolver.resolve(c.id, { runtime: c.runtime }),
      deadline: this.now() + this.waitMs,
      settled: false,
    };
    this.pending.set(c.id, p);
    // resolve() never rejects (errors are counted and cached as misses).
    void p.promise.finally(() => {
      p.settled = true;
      this.pending.delete(c.id);
    });
    return p;
  }

  /** How long the event path may wait now, given the per-second cap. */
  private allowance(deadline: number): number {
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.waitedInWindow = 0;
    }
    return Math.min(deadline - now, this.waitBudgetPerSecond - this.waitedInWindow);
  }

  /** The collector's `enrich`: bounded as the module comment says. */
  async enrich<E extends RuntimeEvent>(ev: E): Promise<E> {
    const c = ev.container;
    if (!c || c.id === '') return ev;
    const hit = this.resolver.lookup(c.id);
    if (hit !== undefined) return withContainer(ev, hit ?? undefined);
    const p = this.lookup(c);
    if (!p) return withContainer(ev, undefined);
    const allowed = this.allowance(p.deadline);
    if (allowed <= 0) {
      this.s.notWaited++;
      return withContainer(ev, undefined);
    }
    const started = this.now();
    const timer = delay(allowed);
    const r = await Promise.race([p.promise, timer.promise]);
    timer.cancel();
    const waited = this.now() - started;
    this.waitedInWindow += waited;
    this.s.waitedMs += waited;
    if (r === TIMED_OUT) {
      this.s.waitTimeouts++;
      return withContainer(ev, undefined);
    }
    this.s.resolvedInTime++;
    return withContainer(ev, r);
  }

  /**
   * Wraps the collector's sink: alerts whose events are unresolved wait (off the event path)
   * for their container's lookup, at most alertHoldMs, and go on with what is known then.
   */
  sink(inner: CollectorSink): CollectorSink {
    const offer = (item: Exclude<TransportItem, { k: 'counters' }>): boolean => {
      if (item.k !== 'alert') return inner.offer(item);
      const waits = this.lookupsOf(item.alert);
      if (waits.length === 0) return inner.offer(item);
      if (this.held >= this.maxHeldAlerts) {
        this.s.alertsSentUnresolved++;
        return inner.offer(item);
      }
      this.held++;
      this.s.alertsHeld++;
      const timer = delay(this.alertHoldMs);
      const hold: Promise<void> = Promise.race([Promise.all(waits), timer.promise]).then(() => {
        timer.cancel();
        this.held--;
        this.holds.delete(hold);
        const alert = this.fill(item.alert);
        // A refusal here is counted by the inner sink's droppedItems(), reported as user drops.
        inner.offer({ k: 'alert', alert });
      });
      this.holds.add(hold);
      return true;
    };
    return {
      offer,
      addCounters: (d: SensorCounterDelta): void => inner.addCounters(d),
      droppedItems: (): number => inner.droppedItems(),
      ...(inner.bufferedItems ? { bufferedItems: (): number => inner.bufferedItems!() } : {}),
      ...(inner.bufferedBytes ? { bufferedBytes: (): number => inner.bufferedBytes!() } : {}),
    };
  }

  /** Lookups (running or started now) of the unresolved containers of an alert's events. */
  private lookupsOf(a: Alert): Promise<unknown>[] {
    const out: Promise<unknown>[] = [];
    for (const ev of a.events) {
      const c = unresolvedContainer(ev);
      if (!c) continue;
      const hit = this.resolver.lookup(c.id);
      if (hit === null) continue; // known to be unknown: nothing to wait for
      if (hit !== undefined) {
        out.push(Promise.resolve()); // resolved since: fill without waiting
        continue;
      }
      const p = this.lookup(c);
      if (p && !p.settled) out.push(p.promise);
    }
    return out;
  }

  private fill(a: Alert): Alert {
    let changed = false;
    const events = a.events.map((ev) => {
      const c = unresolvedContainer(ev);
      const hit = c ? this.resolver.lookup(c.id) : undefined;
      if (!c || !hit) return ev;
      changed = true;
      return withContainer(ev, hit);
    });
    if (changed) this.s.alertsFilledLate++;
    else this.s.alertsSentUnresolved++;
    return changed ? { ...a, events } : a;
  }

  /** Resolves once every held alert has been handed on (each is held at most alertHoldMs). */
  async drain(): Promise<void> {
    while (this.holds.size > 0) await Promise.all([...this.holds]);
  }

  /** One line for the end of a run. */
  summary(): string {
    const r = this.resolver.stats();
    const s = this.s;
    return (
      `collector: attribution (${this.sources.join(' > ')}): ${r.lookups} lookups, ${r.resolved} resolved, ` +
      `${r.errors} errors; ${s.resolvedInTime} events waited for a lookup (${s.waitedMs} ms in all), ` +
      `${s.waitTimeouts + s.notWaited + s.pendingFull} went on unresolved; ${s.alertsFilledLate} alerts completed late`
    );
  }

  stats(): AttributionStats {
    return { ...this.s };
  }

  metrics(): MetricFamily[] {
    const r = this.resolver.stats();
    const p = 'palisade_collector_resolver_';
    return [
      singleMetric(`${p}cache_entries`, 'Containers in the attribution cache.', 'gauge', r.size),
      singleMetric(`${p}lookups_total`, 'Lookups asked of the runtime resolvers.', 'counter', r.lookups),
      singleMetric(`${p}resolved_total`, 'Lookups that found the container.', 'counter', r.resolved),
      singleMetric(`${p}errors_total`, 'Lookups that failed with an error.', 'counter', r.errors),
      singleMetric(
        `${p}wait_timeouts_total`,
        'Events sent on unresolved: the lookup took longer than the wait budget.',
        'counter',
        this.s.waitTimeouts,
      ),
      singleMetric(`${p}pending_full_total`, 'Misses with too many lookups in flight.', 'counter', this.s.pendingFull),
      singleMetric(
        `${p}alerts_filled_late_total`,
        'Alerts held until their container was resolved.',
        'counter',
        this.s.alertsFilledLate,
      ),
    ];
  }
}

/** Is an executable called `name` on $PATH? */
export function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      if (statSync(join(dir, name)).isFile()) return true;
    } catch {
      // not there
    }
  }
  return false;
}

/**
 * The resolvers `--resolver` asks for behind the bounded stage; undefined when there are none.
 * The Kubernetes resolver's first pod list is awaited; when it fails the collector starts
 * anyway (said in one line) and the periodic relist tries again.
 */
export async function startAttribution(o: ResolverSetupOptions & AttributionOptions): Promise<Attribution | undefined> {
  const setup = setupResolver(o);
  if (!setup.resolver) return undefined;
  if (setup.kubernetes) {
    await setup.kubernetes.start().catch(() => undefined);
    const st = setup.kubernetes.stats;
    if (st.errors > 0)
      o.log(`collector: the Kubernetes pod list failed (${st.lastError ?? 'unknown error'}); retrying every 30 s`);
  }
  return new Attribution(setup.resolver, setup.sources, o);
}
