/**
 * Container records of the inventory collector: what a cluster's Pods say about each running
 * container (pod, namespace, node, workload, service account, image and digest), kept in a
 * compact bounded index so the collector sends a record when it is new or changed and a
 * `deleted` record when its container is gone.
 *
 * The workload is the pod's controller, followed one step up where Kubernetes puts a controller
 * in between: ReplicaSet → Deployment, Job → CronJob, read from the ReplicaSets and Jobs the
 * collector watches (by owner uid). StatefulSets, DaemonSets and other controllers own their
 * pods directly. A ReplicaSet not (yet) known falls back to the naming convention
 * `<deployment>-<pod-template-hash>`; it is corrected when the ReplicaSet arrives.
 *
 * Only small summaries are kept (never whole Pod objects), and a digest of what was sent: about
 * 1 KB per container (bench figure in docs/sensor.md).
 */
import { createHash } from 'node:crypto';
import type { KubeContainerRecord } from '@palisade/core';
import type { KubeObject } from '@palisade/kube';

type Obj = Record<string, unknown>;

/** What a pod's controller reference names. */
export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
}

export interface PodContainer {
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  startedAt?: string;
}

/** The part of a Pod the collector keeps. */
export interface PodSummary {
  uid: string;
  name: string;
  namespace: string;
  node: string;
  serviceAccount: string;
  controller?: OwnerRef;
  /** The `pod-template-hash` label (Deployment pods). */
  templateHash: string;
  containers: PodContainer[];
}

/** Bounds of the strings of a record: the server refuses longer ones (validate.ts). */
const MAX = { name: 253, kind: 64, image: 1024, digest: 256, id: 128 } as const;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function str(v: unknown, max: number): string {
  return typeof v === 'string' ? v.slice(0, max) : '';
}

function isoTime(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * `containerd://<id>` (or `cri-o://`, `docker://`, any scheme) → `<id>`, the form a node's sensor
 * reads from the cgroup path; undefined for a container not started yet (no id) or an id that is
 * not a plain token.
 */
export function containerIdOf(raw: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(.+)$/.exec(raw);
  const id = m?.[1] ?? '';
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) && id.length <= MAX.id ? id : undefined;
}

/** `sha256:<hex>` in an imageID (`docker.io/library/nginx@sha256:…`, `docker-pullable://…`, `sha256:…`); '' when none. */
export function imageDigestOf(imageId: string): string {
  const m = /sha256:[0-9a-f]{64}/.exec(imageId);
  return m ? m[0] : '';
}

/** The controlling owner reference of an object (ownerReferences[].controller === true). */
export function controllerOf(meta: Obj | undefined): OwnerRef | undefined {
  const refs = meta?.['ownerReferences'];
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    const o = obj(r);
    if (o?.['controller'] !== true) continue;
    const kind = str(o['kind'], MAX.kind);
    const name = str(o['name'], MAX.name);
    if (kind !== '' && name !== '') return { kind, name, uid: str(o['uid'], MAX.name) };
  }
  return undefined;
}

const STATUS_KEYS = ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses'] as const;

/** A Pod as the collector keeps it; undefined without uid, name or namespace (never from a real API server). */
export function podSummary(pod: KubeObject): PodSummary | undefined {
  const meta = obj(pod['metadata']);
  const spec = obj(pod['spec']);
  const status = obj(pod['status']);
  const uid = str(meta?.['uid'], MAX.name);
  const name = str(meta?.['name'], MAX.name);
  const namespace = str(meta?.['namespace'], MAX.name);
  if (uid === '' || name === '' || namespace === '') return undefined;
  const containers: PodContainer[] = [];
  const seen = new Set<string>();
  for (const key of STATUS_KEYS) {
    const list = status?.[key];
    if (!Array.isArray(list)) continue;
    for (const s of list) {
      const o = obj(s);
      const id = containerIdOf(str(o?.['containerID'], 512));
      if (o === undefined || id === undefined || seen.has(id)) continue; // not started yet: no id
      seen.add(id);
      const state = obj(o['state']);
      const startedAt = isoTime(obj(state?.['running'])?.['startedAt'] ?? obj(state?.['terminated'])?.['startedAt']);
      containers.push({
        id,
        name: str(o['name'], MAX.name),
        image: str(o['image'], MAX.image),
        imageDigest: imageDigestOf(str(o['imageID'], MAX.image)),
        ...(startedAt !== undefined ? { startedAt } : {}),
      });
    }
  }
  containers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const controller = controllerOf(meta);
  return {
    uid,
    name,
    namespace,
    node: str(spec?.['nodeName'], MAX.name),
    serviceAccount: str(spec?.['serviceAccountName'], MAX.name),
    ...(controller ? { controller } : {}),
    templateHash: str(obj(meta?.['labels'])?.['pod-template-hash'], MAX.name),
    containers,
  };
}

/** A ReplicaSet's or Job's own controller (its Deployment or CronJob), null when it has none. */
export function ownerEntry(o: KubeObject): { uid: string; parent: { kind: string; name: string } | null } | undefined {
  const meta = obj(o['metadata']);
  const uid = str(meta?.['uid'], MAX.name);
  if (uid === '') return undefined;
  const c = controllerOf(meta);
  return { uid, parent: c ? { kind: c.kind, name: c.name } : null };
}

/** ReplicaSets (or Jobs) by uid → their own controller; bounded, the least recently written dropped first. */
export class OwnerIndex {
  private readonly parents = new Map<string, { kind: string; name: string } | null>();
  /** Entries dropped because the index was full. */
  evicted = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.parents.size;
  }

  /** undefined: not known; null: known, without a controller. */
  get(uid: string): { kind: string; name: string } | null | undefined {
    return this.parents.get(uid);
  }

  /** Record an object; its uid when what it says about its controller changed (or is new), else undefined. */
  put(o: KubeObject): string | undefined {
    const e = ownerEntry(o);
    if (e === undefined) return undefined;
    const before = this.parents.get(e.uid);
    this.parents.delete(e.uid);
    this.parents.set(e.uid, e.parent);
    while (this.parents.size > this.limit) {
      this.parents.delete(this.parents.keys().next().value as string);
      this.evicted++;
    }
    const changed = before === undefined || before?.kind !== e.parent?.kind || before?.name !== e.parent?.name;
    return changed ? e.uid : undefined;
  }

  replace(objects: readonly KubeObject[]): void {
    this.parents.clear();
    for (const o of objects) this.put(o);
  }

  remove(o: KubeObject): void {
    const e = ownerEntry(o);
    if (e) this.parents.delete(e.uid);
  }
}

/** The pod's workload: its controller, one step up from a ReplicaSet or Job; empty for a bare pod. */
export function workloadOf(pod: PodSummary, replicaSets: OwnerIndex, jobs: OwnerIndex): { kind: string; name: string } {
  const c = pod.controller;
  if (c === undefined) return { kind: '', name: '' };
  if (c.kind === 'ReplicaSet') {
    const parent = replicaSets.get(c.uid);
    if (parent !== undefined) return parent ?? { kind: c.kind, name: c.name };
    // Not known (yet): the Deployment controller names its ReplicaSets `<deployment>-<hash>`.
    if (pod.templateHash !== '' && c.name.endsWith(`-${pod.templateHash}`))
      return { kind: 'Deployment', name: c.name.slice(0, -pod.templateHash.length - 1) };
    return { kind: c.kind, name: c.name };
  }
  if (c.kind === 'Job') return jobs.get(c.uid) ?? { kind: c.kind, name: c.name };
  return { kind: c.kind, name: c.name };
}

/** The records of a pod's started containers, sorted by container id. */
export function containerRecords(pod: PodSummary, workload: { kind: string; name: string }): KubeContainerRecord[] {
  return pod.containers.map((c) => ({
    containerId: c.id,
    containerName: c.name,
    pod: pod.name,
    namespace: pod.namespace,
    node: pod.node,
    workloadKind: workload.kind,
    workloadName: workload.name,
    serviceAccount: pod.serviceAccount,
    image: c.image,
    imageDigest: c.imageDigest,
    podUid: pod.uid,
    ...(c.startedAt !== undefined ? { startedAt: c.startedAt } : {}),
  }));
}

interface IndexedPod {
  summary: PodSummary;
  /** The workload its records named when last handed out. */
  workload: { kind: string; name: string };
  /** containerId → digest of the record last handed out (what makes a repeat a duplicate; a digest, not the record, to stay small). */
  sent: Map<string, string>;
}

function versionOf(r: KubeContainerRecord): string {
  return createHash('sha256').update(JSON.stringify(r)).digest('base64').slice(0, 16);
}

function deletedRecords(p: IndexedPod, ids?: ReadonlySet<string>): KubeContainerRecord[] {
  return containerRecords(p.summary, p.workload)
    .filter((r) => ids === undefined || ids.has(r.containerId))
    .map((r) => ({ ...r, deleted: true as const }));
}

/**
 * The pods of the cluster as container records, bounded by `limit` pods (the least recently
 * changed are forgotten first, counted in `evicted`). Each method returns the records to send.
 */
export class PodIndex {
  private readonly pods = new Map<string, IndexedPod>();
  /** Pods forgotten because the index was full. */
  evicted = 0;

  constructor(
    readonly limit: number,
    private readonly replicaSets: OwnerIndex,
    private readonly jobs: OwnerIndex,
  ) {}

  get size(): number {
    return this.pods.size;
  }

  /** Containers indexed. */
  containers(): number {
    let n = 0;
    for (const p of this.pods.values()) n += p.sent.size;
    return n;
  }

  /**
   * A pod added or changed: its new or changed records (all of them with `force`), and a
   * `deleted` record for each container it no longer has (a restarted container has a new id).
   */
  update(summary: PodSummary, force = false): KubeContainerRecord[] {
    const before = this.pods.get(summary.uid);
    const out: KubeContainerRecord[] = [];
    const sent = new Map<string, string>();
    const workload = workloadOf(summary, this.replicaSets, this.jobs);
    for (const r of containerRecords(summary, workload)) {
      const version = versionOf(r);
      sent.set(r.containerId, version);
      if (force || before?.sent.get(r.containerId) !== version) out.push(r);
    }
    if (before !== undefined) {
      const gone = new Set([...before.sent.keys()].filter((id) => !sent.has(id)));
      if (gone.size > 0) out.push(...deletedRecords(before, gone));
    }
    this.pods.delete(summary.uid); // re-inserted last: eviction drops the least recently changed
    this.pods.set(summary.uid, { summary, workload, sent });
    while (this.pods.size > this.limit) {
      this.pods.delete(this.pods.keys().next().value as string);
      this.evicted++;
    }
    return out;
  }

  /** A pod deleted: a `deleted` record per container. */
  remove(uid: string): KubeContainerRecord[] {
    const before = this.pods.get(uid);
    if (before === undefined) return [];
    this.pods.delete(uid);
    return deletedRecords(before);
  }

  /** A (re)list: every record of these pods, and `deleted` records for the containers of pods no longer listed. */
  replace(summaries: readonly PodSummary[]): KubeContainerRecord[] {
    const listed = new Set(summaries.map((s) => s.uid));
    const out: KubeContainerRecord[] = [];
    for (const uid of [...this.pods.keys()]) if (!listed.has(uid)) out.push(...this.remove(uid));
    for (const s of summaries) out.push(...this.update(s, true));
    return out;
  }

  /** Owners changed: the records that now resolve differently (of pods owned by `ownerUid`, or of all pods). */
  reresolve(ownerUid?: string): KubeContainerRecord[] {
    const out: KubeContainerRecord[] = [];
    for (const p of [...this.pods.values()]) {
      const c = p.summary.controller;
      if (c === undefined || (c.kind !== 'ReplicaSet' && c.kind !== 'Job')) continue;
      if (ownerUid !== undefined && c.uid !== ownerUid) continue;
      out.push(...this.update(p.summary));
    }
    return out;
  }

  /** Every current record (the periodic resync that keeps the server's last-seen times fresh). */
  all(): KubeContainerRecord[] {
    const out: KubeContainerRecord[] = [];
    for (const p of this.pods.values()) out.push(...containerRecords(p.summary, p.workload));
    return out;
  }
}
