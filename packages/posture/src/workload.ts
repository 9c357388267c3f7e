/**
 * Where the pod lives in each workload kind. Checks look at the pod spec and pod metadata
 * through this, so one check covers a Pod, a Deployment's template and a CronJob's job
 * template alike, and reports the path into the object it was given.
 */
import { isObject, objAt, arrAt, strAt, type FieldPath, type JsonObject } from './path.js';

/** Kinds whose pod template is checked, with the path from the object to the template (the Pod itself for Pod). */
const TEMPLATE_PATHS: Readonly<Record<string, FieldPath>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

export const WORKLOAD_KINDS: readonly string[] = Object.keys(TEMPLATE_PATHS).sort();

/** Kinds Palisade knows besides workloads: read (checks may look them up), not skipped as unknown. */
export const OTHER_KNOWN_KINDS: readonly string[] = [
  'ServiceAccount',
  'Namespace',
  'Service',
  'ConfigMap',
  'Secret',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'NetworkPolicy',
  'Ingress',
  'PersistentVolumeClaim',
  'PersistentVolume',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'LimitRange',
  'ResourceQuota',
  'StorageClass',
  'PriorityClass',
  'Endpoints',
  'EndpointSlice',
  'Event',
  'Node',
  'ControllerRevision',
  'Lease',
  // Gateway API: read for the exposure graph (routes attach Services to Gateways).
  'Gateway',
  'GRPCRoute',
  'HTTPRoute',
  'TCPRoute',
  'TLSRoute',
  'UDPRoute',
];

export interface PodView {
  /** The pod spec (possibly empty when the manifest leaves it out). */
  spec: JsonObject;
  specPath: FieldPath;
  /** The pod metadata (annotations live there). */
  meta: JsonObject;
  metaPath: FieldPath;
}

// Every check asks for the pod and containers of the same object: computed once per object
// (and per PodView) instead of once per check. Frozen, since every check shares them.
const podCache = new WeakMap<JsonObject, PodView | null>();
const containerCache = new WeakMap<PodView, Map<string, ContainerView[]>>();

/** The pod of a workload object, or undefined when the kind carries no pod. */
export function podOf(obj: JsonObject): PodView | undefined {
  let pod = podCache.get(obj);
  if (pod === undefined) {
    pod = readPod(obj) ?? null;
    podCache.set(obj, pod);
  }
  return pod ?? undefined;
}

function readPod(obj: JsonObject): PodView | undefined {
  const kind = strAt(obj, 'kind');
  if (kind === undefined) return undefined;
  const base = TEMPLATE_PATHS[kind];
  if (base === undefined) return undefined;
  let template: unknown = obj;
  for (const seg of base) template = objAt(template, seg as string);
  return Object.freeze({
    spec: objAt(template, 'spec') ?? {},
    specPath: [...base, 'spec'],
    meta: objAt(template, 'metadata') ?? {},
    metaPath: [...base, 'metadata'],
  });
}

export type ContainerKind = 'containers' | 'initContainers' | 'ephemeralContainers';

export interface ContainerView {
  c: JsonObject;
  /** Path from the object to this container. */
  path: FieldPath;
  name: string;
  kind: ContainerKind;
}

/** Every container of a pod in the order pod-security-admission visits them: init, regular, ephemeral. */
export function containersOf(
  pod: PodView,
  kinds: readonly ContainerKind[] = ['initContainers', 'containers', 'ephemeralContainers'],
): ContainerView[] {
  let byKinds = containerCache.get(pod);
  if (byKinds === undefined) containerCache.set(pod, (byKinds = new Map<string, ContainerView[]>()));
  const key = kinds.join(',');
  let views = byKinds.get(key);
  if (views === undefined) byKinds.set(key, (views = Object.freeze(readContainers(pod, kinds)) as ContainerView[]));
  return views;
}

function readContainers(pod: PodView, kinds: readonly ContainerKind[]): ContainerView[] {
  const out: ContainerView[] = [];
  for (const kind of kinds) {
    arrAt(pod.spec, kind).forEach((c, i) => {
      if (!isObject(c)) return;
      out.push({ c, path: [...pod.specPath, kind, i], name: strAt(c, 'name') ?? `${kind}[${i}]`, kind });
    });
  }
  return out;
}
