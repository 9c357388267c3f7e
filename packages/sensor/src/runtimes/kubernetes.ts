/**
 * Kubernetes attribution: the pods of this node, listed from the API server with
 * `fieldSelector=spec.nodeName=<node>` and indexed by container id
 * (status.*containerStatuses[].containerID without its `containerd://`, `cri-o://` or
 * `docker://` scheme). The client has no watch, so the index is relisted periodically and
 * on a miss (rate-limited: a container of a pod that just started is found at the next
 * relist, and a flood of unknown ids costs one list per `minRelistMs`). Relists after the
 * first pass the last resourceVersion with resourceVersionMatch=NotOlderThan, which the API
 * server answers from its watch cache.
 *
 * The workload is the pod's controller, followed one step up where Kubernetes puts a
 * controller in between: ReplicaSet → Deployment, Job → CronJob. That step reads the
 * ReplicaSet or Job (cached; needs `get` on them, which the read-only ClusterRole has); if
 * it is refused, the ReplicaSet's name minus the pod-template-hash suffix is the Deployment.
 */
import { PalisadeError, type KubernetesContext } from '@palisade/core';
import type { KubeClient } from '@palisade/kube';
import type { ContainerContextResolver, ResolvedContainer } from '../resolver.js';
import { asObj, asStr, digestOf } from './unix-http.js';

type Obj = Record<string, unknown>;

/** The part of KubeClient this resolver uses (tests may pass a KubeClient on a recorded API). */
export type PodApiClient = Pick<KubeClient, 'getJson' | 'cluster'>;

export interface KubernetesResolverOptions {
  client: PodApiClient;
  /** This node's name (the downward API's spec.nodeName, usually $NODE_NAME). */
  nodeName: string;
  /** Periodic relist; 0 disables the timer (default 30 000 ms). */
  relistIntervalMs?: number;
  /** Least time between two relists caused by misses (default 2000 ms). */
  minRelistMs?: number;
  /** Read ReplicaSets and Jobs to find Deployments and CronJobs (default true). */
  lookupOwners?: boolean;
  now?: () => number;
}

interface Indexed {
  container: Omit<ResolvedContainer, 'k8s'>;
  k8s: KubernetesContext;
}

const SCHEME_RUNTIME: Record<string, string> = { containerd: 'containerd', 'cri-o': 'cri-o', docker: 'docker' };
// RFC 1123 subdomain, as Kubernetes validates node names.
const NODE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `containerd://<id>` → {id, runtime}; undefined for an empty or unknown form. */
export function parseContainerId(containerId: string): { id: string; runtime: string } | undefined {
  const m = /^([a-z-]+):\/\/([0-9a-f]{64})$/.exec(containerId);
  if (!m?.[1] || !m[2]) return undefined;
  return { id: m[2], runtime: SCHEME_RUNTIME[m[1]] ?? m[1] };
}

function controllerOf(meta: Obj | undefined): { kind: string; name: string } | undefined {
  const refs = meta?.['ownerReferences'];
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    const o = asObj(r);
    if (o?.['controller'] === true && asStr(o['kind']) && asStr(o['name']))
      return { kind: asStr(o['kind']), name: asStr(o['name']) };
  }
  return undefined;
}

export class KubernetesResolver implements ContainerContextResolver {
  readonly id = 'kubernetes';
  private index = new Map<string, Indexed>();
  private resourceVersion: string | undefined;
  private lastList = Number.NEGATIVE_INFINITY;
  private listing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly owners = new Map<string, { kind: string; name: string } | null>();
  private readonly client: PodApiClient;
  private readonly nodeName: string;
  private readonly relistIntervalMs: number;
  private readonly minRelistMs: number;
  private readonly lookupOwners: boolean;
  private readonly now: () => number;
  /** Lists done and the last list error (a broken API server must be visible, not silent). */
  readonly stats = { lists: 0, errors: 0, pods: 0, lastError: undefined as string | undefined };

  constructor(opts: KubernetesResolverOptions) {
    if (!NODE_RE.test(opts.nodeName) || opts.nodeName.length > 253)
      throw new PalisadeError('E_INPUT', `node name '${opts.nodeName}' is not a valid Kubernetes node name`, {
        subject: 'kubernetes resolver',
      });
    this.client = opts.client;
    this.nodeName = opts.nodeName;
    this.relistIntervalMs = opts.relistIntervalMs ?? 30_000;
    this.minRelistMs = opts.minRelistMs ?? 2000;
    this.lookupOwners = opts.lookupOwners ?? true;
    this.now = opts.now ?? Date.now;
  }

  /** First list, then the periodic relist (the timer never keeps the process alive). */
  async start(): Promise<void> {
    await this.refresh();
    if (this.relistIntervalMs > 0 && !this.timer) {
      this.timer = setInterval(() => {
        this.refresh().catch(() => undefined); // counted in stats by refresh
      }, this.relistIntervalMs);
      this.timer.unref();
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.index.size;
  }

  /** Relists the node's pods (one list in flight at a time). */
  refresh(): Promise<void> {
    this.listing ??= this.list().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private async list(): Promise<void> {
    this.lastList = this.now();
    const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${this.nodeName}` });
    if (this.resourceVersion) {
      q.set('resourceVersion', this.resourceVersion);
      q.set('resourceVersionMatch', 'NotOlderThan');
    }
    let body: unknown;
    try {
      body = await this.client.getJson(`/api/v1/pods?${q.toString()}`, `pods on node ${this.nodeName}`);
    } catch (err) {
      this.stats.errors++;
      this.stats.lastError = err instanceof Error ? err.message : String(err);
      throw err;
    }
    const list = asObj(body);
    const items = list?.['items'];
    if (!Array.isArray(items)) {
      this.stats.errors++;
      this.stats.lastError = 'pod list has no items array';
      throw new PalisadeError('E_CORRUPT', 'pod list has no items array', {
        subject: `cluster ${this.client.cluster}: pods on node ${this.nodeName}`,
      });
    }
    const next = new Map<string, Indexed>();
    for (const item of items) {
      const pod = asObj(item);
      if (pod) await this.indexPod(pod, next);
    }
    this.index = next;
    this.stats.lists++;
    this.stats.pods = items.length;
    const rv = asStr(asObj(list?.['metadata'])?.['resourceVersion']);
    if (rv !== '') this.resourceVersion = rv;
  }

  private async indexPod(pod: Obj, into: Map<string, Indexed>): Promise<void> {
    const meta = asObj(pod['metadata']);
    const spec = asObj(pod['spec']);
    const status = asObj(pod['status']);
    const name = asStr(meta?.['name']);
    const namespace = asStr(meta?.['namespace']);
    if (!name || !namespace) return;
    const k8s: KubernetesContext = { pod: name, namespace };
    const workload = await this.workloadOf(namespace, meta);
    if (workload) {
      k8s.workloadKind = workload.kind;
      k8s.workloadName = workload.name;
    }
    const sa = asStr(spec?.['serviceAccountName']);
    if (sa) k8s.serviceAccount = sa;

    const privileged = new Map<string, boolean>();
    for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
      const cs = spec?.[key];
      if (!Array.isArray(cs)) continue;
      for (const c of cs) {
        const o = asObj(c);
        const p = asObj(o?.['securityContext'])?.['privileged'];
        if (o && typeof p === 'boolean') privileged.set(asStr(o['name']), p);
      }
    }
    for (const key of ['containerStatuses', 'initContainerStatuses', 'ephemeralContainerStatuses']) {
      const statuses = status?.[key];
      if (!Array.isArray(statuses)) continue;
      for (const s of statuses) {
        const o = asObj(s);
        const parsed = parseContainerId(asStr(o?.['containerID']));
        if (!o || !parsed) continue; // not started yet: no id
        const cname = asStr(o['name']);
        const container: Omit<ResolvedContainer, 'k8s'> = {
          id: parsed.id,
          name: cname,
          image: asStr(o['image']),
          imageDigest: digestOf(asStr(o['imageID'])),
          runtime: parsed.runtime,
          source: this.id,
        };
        const p = privileged.get(cname);
        if (p !== undefined) container.privileged = p;
        into.set(parsed.id, { container, k8s });
      }
    }
  }

  private async workloadOf(
    namespace: string,
    meta: Obj | undefined,
  ): Promise<{ kind: string; name: string } | undefined> {
    const ctl = controllerOf(meta);
    if (!ctl) return undefined;
    if (ctl.kind !== 'ReplicaSet' && ctl.kind !== 'Job') return ctl;
    const parent = await this.parentOf(namespace, ctl, asObj(meta?.['labels']));
    return parent ?? ctl;
  }

  /** Deployment of a ReplicaSet, CronJob of a Job; undefined when there is none. */
  private async parentOf(
    namespace: string,
    ctl: { kind: string; name: string },
    podLabels: Obj | undefined,
  ): Promise<{ kind: string; name: string } | undefined> {
    const key = `${namespace}/${ctl.kind}/${ctl.name}`;
    const known = this.owners.get(key);
    if (known !== undefined) return known ?? undefined;
    let parent: { kind: string; name: string } | undefined;
    let decided = false;
    if (this.lookupOwners) {
      const path =
        ctl.kind === 'ReplicaSet'
          ? `/apis/apps/v1/namespaces/${namespace}/replicasets/${ctl.name}`
          : `/apis/batch/v1/namespaces/${namespace}/jobs/${ctl.name}`;
      try {
        const obj = asObj(await this.client.getJson(path, `${ctl.kind} ${namespace}/${ctl.name}`));
        parent = controllerOf(asObj(obj?.['metadata']));
        decided = true;
      } catch {
        // Refused or gone: fall back to the naming convention below.
      }
    }
    if (!decided && ctl.kind === 'ReplicaSet') {
      const hash = asStr(podLabels?.['pod-template-hash']);
      if (hash && ctl.name.endsWith(`-${hash}`))
        parent = { kind: 'Deployment', name: ctl.name.slice(0, -hash.length - 1) };
    }
    if (this.owners.size > 4096) this.owners.clear();
    // Only a real answer is cached; a fallback guess is retried at the next relist.
    if (decided) this.owners.set(key, parent ?? null);
    return parent;
  }

  async resolve(containerId: string): Promise<ResolvedContainer | undefined> {
    let hit = this.index.get(containerId);
    if (!hit && this.now() - this.lastList >= this.minRelistMs) {
      await this.refresh();
      hit = this.index.get(containerId);
    }
    if (!hit) return undefined;
    return { ...hit.container, k8s: { ...hit.k8s } };
  }
}
