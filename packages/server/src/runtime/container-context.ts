/**
 * Filling in the Kubernetes context of a batch's events from the container records of the
 * cluster's inventory collector (`palisade sensor inventory`), before detection and storage.
 * A node's collector has no API access: its context comes from the runtime's state files, which
 * name the pod and namespace but often not the workload or the image digest, and from nothing at
 * all for a container it could not resolve in time.
 *
 * Order of precedence, field by field (docs/runtime-alerts.md):
 *
 * 1. What the node's sensor resolved is kept; it is never overwritten.
 * 2. What it left empty comes from the inventory's record of the same container id:
 *    - no Kubernetes context (or an empty namespace): pod, namespace, workload kind and name,
 *      service account from the record;
 *    - context naming the record's pod and namespace: the missing workload (kind and name as a
 *      pair) and service account;
 *    - context naming another pod: left as the node said it (the two are not mixed);
 *    - an empty container image, image digest or name: the record's.
 * 3. Nothing known: the event stays as it came (the alert's columns stay empty and it groups
 *    by the image on its node).
 *
 * One query per batch looks up every container id that lacks something.
 */
import type {
  ContainerContext,
  KubeContainerRecord,
  KubernetesContext,
  RuntimeEvent,
  RuntimeIngestBatch,
} from '@palisade/core';

/** Where the records come from (the alert repository). */
export interface ContainerContextSource {
  containerContext(
    clusterId: string,
    containerIds: readonly string[],
  ): Promise<ReadonlyMap<string, KubeContainerRecord>>;
}

export interface ContainerContextResult {
  /** The batch with context filled in (the same object when nothing changed; the input is never modified). */
  batch: RuntimeIngestBatch;
  /** Events that got some context. */
  filled: number;
  /** Distinct container ids looked up (0: no query was made). */
  lookedUp: number;
}

/** The container id of an event that lacks context the inventory could give; undefined otherwise. */
export function containerIdNeedingContext(ev: RuntimeEvent): string | undefined {
  const c = ev.container;
  if (c === undefined || c.id === '') return undefined;
  const k = ev.k8s;
  const missing =
    k === undefined ||
    k.namespace === '' ||
    k.workloadKind === undefined ||
    k.serviceAccount === undefined ||
    c.image === '' ||
    c.imageDigest === '' ||
    c.name === '';
  return missing ? c.id : undefined;
}

function kubeContextOf(rec: KubeContainerRecord): KubernetesContext {
  return {
    pod: rec.pod,
    namespace: rec.namespace,
    ...(rec.workloadKind !== '' ? { workloadKind: rec.workloadKind, workloadName: rec.workloadName } : {}),
    ...(rec.serviceAccount !== '' ? { serviceAccount: rec.serviceAccount } : {}),
  };
}

function mergeKube(k: KubernetesContext | undefined, rec: KubeContainerRecord): KubernetesContext | undefined {
  if (k === undefined || k.namespace === '') return kubeContextOf(rec);
  if (k.pod !== rec.pod || k.namespace !== rec.namespace) return k;
  const add: Partial<KubernetesContext> = {};
  if (k.workloadKind === undefined && k.workloadName === undefined && rec.workloadKind !== '') {
    add.workloadKind = rec.workloadKind;
    add.workloadName = rec.workloadName;
  }
  if (k.serviceAccount === undefined && rec.serviceAccount !== '') add.serviceAccount = rec.serviceAccount;
  return Object.keys(add).length === 0 ? k : { ...k, ...add };
}

function mergeContainer(c: ContainerContext, rec: KubeContainerRecord): ContainerContext {
  const add: Partial<ContainerContext> = {};
  if (c.image === '' && rec.image !== '') add.image = rec.image;
  if (c.imageDigest === '' && rec.imageDigest !== '') add.imageDigest = rec.imageDigest;
  if (c.name === '' && rec.containerName !== '') add.name = rec.containerName;
  return Object.keys(add).length === 0 ? c : { ...c, ...add };
}

/** The event with what it lacks taken from `rec` (the same object when it lacks nothing `rec` has). */
export function withContainerContext(ev: RuntimeEvent, rec: KubeContainerRecord): RuntimeEvent {
  if (ev.container === undefined || ev.container.id !== rec.containerId) return ev;
  const k8s = mergeKube(ev.k8s, rec);
  const container = mergeContainer(ev.container, rec);
  if (k8s === ev.k8s && container === ev.container) return ev;
  return { ...ev, container, ...(k8s !== undefined ? { k8s } : {}) };
}

/** Fill in the context of the batch's alerts' events and forwarded events from the inventory's records. */
export async function fillContainerContext(
  source: ContainerContextSource,
  clusterId: string,
  batch: RuntimeIngestBatch,
): Promise<ContainerContextResult> {
  const ids = new Set<string>();
  const want = (ev: RuntimeEvent): void => {
    const id = containerIdNeedingContext(ev);
    if (id !== undefined) ids.add(id);
  };
  for (const a of batch.alerts) a.events.forEach(want);
  batch.events.forEach(want);
  if (ids.size === 0) return { batch, filled: 0, lookedUp: 0 };
  const records = await source.containerContext(clusterId, [...ids]);
  if (records.size === 0) return { batch, filled: 0, lookedUp: ids.size };
  let filled = 0;
  const fill = (ev: RuntimeEvent): RuntimeEvent => {
    const rec = ev.container ? records.get(ev.container.id) : undefined;
    const out = rec === undefined ? ev : withContainerContext(ev, rec);
    if (out !== ev) filled++;
    return out;
  };
  const alerts = batch.alerts.map((a) => {
    const events = a.events.map(fill);
    return events.every((e, i) => e === a.events[i]) ? a : { ...a, events };
  });
  const events = batch.events.map(fill);
  return filled === 0
    ? { batch, filled, lookedUp: ids.size }
    : { batch: { ...batch, alerts, events }, filled, lookedUp: ids.size };
}
