/**
 * Cluster snapshots: the inventory of a cluster at one time, read with paged lists of the
 * kinds Palisade assesses. API discovery (/api, /apis) decides which kinds the cluster
 * serves, so a cluster without the Gateway API is not an error. Secrets are never listed:
 * the kind table has no entry for them and `takeSnapshot` refuses one if given.
 * A snapshot in which any list failed is marked `complete: false` with the failures named,
 * so it is never stored or judged as if it were the whole cluster.
 */
import { PalisadeError, systemClock, type Clock } from '@palisade/core';
import type { KubeClient, KubeObject } from './client.js';

export interface KindSpec {
  /** `v1` for the core group, else `group/version`. */
  apiVersion: string;
  kind: string;
  /** Plural resource name used in the URL. */
  resource: string;
  namespaced: boolean;
}

/** Every kind a snapshot reads, in listing order. */
export const SNAPSHOT_KINDS: readonly KindSpec[] = [
  { apiVersion: 'v1', kind: 'Namespace', resource: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'Node', resource: 'nodes', namespaced: false },
  { apiVersion: 'v1', kind: 'Pod', resource: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', resource: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', resource: 'serviceaccounts', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', resource: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', resource: 'statefulsets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', resource: 'daemonsets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', resource: 'replicasets', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'Job', resource: 'jobs', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'CronJob', resource: 'cronjobs', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', resource: 'ingresses', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', resource: 'networkpolicies', namespaced: true },
  { apiVersion: 'v1', kind: 'LimitRange', resource: 'limitranges', namespaced: true },
  { apiVersion: 'v1', kind: 'ResourceQuota', resource: 'resourcequotas', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', resource: 'gateways', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', resource: 'httproutes', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', resource: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', resource: 'rolebindings', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', resource: 'clusterroles', namespaced: false },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    resource: 'clusterrolebindings',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    resource: 'validatingwebhookconfigurations',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    resource: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    resource: 'validatingadmissionpolicies',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    resource: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
];

export interface SnapshotError {
  /** `apiVersion/Kind`, or `discovery`. */
  kind: string;
  message: string;
}

export interface Snapshot {
  cluster: string;
  takenAt: string;
  /** Objects with apiVersion and kind set (lists omit them per item); managedFields dropped. */
  objects: KubeObject[];
  /** False when any list failed: the objects are then a part of the cluster, not all of it. */
  complete: boolean;
  errors: SnapshotError[];
  /** Kinds skipped because discovery says the cluster does not serve them. */
  notServed: string[];
}

export interface SnapshotOptions {
  /** Kinds to read (by Kind name); default every kind of SNAPSHOT_KINDS. */
  kinds?: readonly string[];
  pageSize?: number;
  /** Cap on the objects of the whole snapshot (default 200 000). */
  maxObjects?: number;
  clock?: Clock;
}

function kindKey(k: { apiVersion: string; kind: string }): string {
  return `${k.apiVersion}/${k.kind}`;
}

/** groupVersion → the resource names it serves, from /api and /apis. */
async function discover(client: KubeClient, groupVersions: Set<string>): Promise<Map<string, Set<string>>> {
  const served = new Map<string, Set<string>>();
  const core = (await client.getJson('/api', 'discovery /api')) as { versions?: unknown };
  const apis = (await client.getJson('/apis', 'discovery /apis')) as {
    groups?: Array<{ versions?: Array<{ groupVersion?: unknown }> }>;
  };
  const available = new Set<string>();
  if (Array.isArray(core.versions)) for (const v of core.versions) if (typeof v === 'string') available.add(v);
  for (const g of Array.isArray(apis.groups) ? apis.groups : [])
    for (const v of Array.isArray(g.versions) ? g.versions : [])
      if (typeof v.groupVersion === 'string') available.add(v.groupVersion);
  for (const gv of groupVersions) {
    if (!available.has(gv)) continue;
    const path = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
    const list = (await client.getJson(path, `discovery ${path}`)) as { resources?: Array<{ name?: unknown }> };
    const names = new Set<string>();
    for (const r of Array.isArray(list.resources) ? list.resources : [])
      if (typeof r.name === 'string') names.add(r.name);
    served.set(gv, names);
  }
  return served;
}

function listPath(spec: KindSpec): string {
  return spec.apiVersion === 'v1' ? `/api/v1/${spec.resource}` : `/apis/${spec.apiVersion}/${spec.resource}`;
}

/**
 * Read the cluster's inventory. Discovery failures throw (nothing can be read without it:
 * an expired credential shows here, as E_AUTH naming the cluster); a failed list is recorded
 * in `errors` and makes the snapshot incomplete. A network failure or timeout stops the
 * snapshot, since a cluster that stopped answering would make every later list wait out
 * its own timeout.
 */
export async function takeSnapshot(client: KubeClient, options: SnapshotOptions = {}): Promise<Snapshot> {
  const clock = options.clock ?? systemClock;
  const takenAt = clock.now().toISOString();
  let specs = SNAPSHOT_KINDS;
  if (options.kinds) {
    const wanted = new Set(options.kinds.map((k) => k.toLowerCase()));
    if (wanted.has('secret') || wanted.has('secrets'))
      throw new PalisadeError('E_INPUT', 'Palisade never reads secrets', { subject: 'kinds' });
    const unknown = [...wanted].filter((w) => !SNAPSHOT_KINDS.some((s) => s.kind.toLowerCase() === w));
    if (unknown.length > 0)
      throw new PalisadeError(
        'E_INPUT',
        `unknown kind ${unknown.join(', ')} (known: ${SNAPSHOT_KINDS.map((s) => s.kind).join(', ')})`,
        { subject: 'kinds' },
      );
    specs = SNAPSHOT_KINDS.filter((s) => wanted.has(s.kind.toLowerCase()));
  }
  const served = await discover(client, new Set(specs.map((s) => s.apiVersion)));
  const maxObjects = options.maxObjects ?? 200_000;
  const objects: KubeObject[] = [];
  const errors: SnapshotError[] = [];
  const notServed: string[] = [];
  let aborted: string | undefined;
  for (const spec of specs) {
    if (!served.get(spec.apiVersion)?.has(spec.resource)) {
      notServed.push(kindKey(spec));
      continue;
    }
    if (aborted !== undefined) {
      errors.push({ kind: kindKey(spec), message: `not listed: ${aborted}` });
      continue;
    }
    try {
      const result = await client.list(
        listPath(spec),
        {
          ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
          maxObjects: maxObjects - objects.length,
        },
        spec.resource,
      );
      for (const item of result.items) objects.push(normalise(item, spec));
    } catch (err) {
      const e = err instanceof PalisadeError ? err : new PalisadeError('E_INTERNAL', String(err));
      errors.push({ kind: kindKey(spec), message: e.describe() });
      if (e.code === 'E_NETWORK' || e.code === 'E_TIMEOUT' || e.code === 'E_TOO_LARGE')
        aborted = `snapshot stopped after ${kindKey(spec)} failed`;
    }
  }
  return { cluster: client.cluster, takenAt, objects, complete: errors.length === 0, errors, notServed };
}

/** Lists omit apiVersion/kind per item; managedFields are bulk nobody assesses. */
function normalise(item: KubeObject, spec: KindSpec): KubeObject {
  const meta = item['metadata'];
  if (typeof meta === 'object' && meta !== null) delete (meta as Record<string, unknown>)['managedFields'];
  return { apiVersion: spec.apiVersion, kind: spec.kind, ...item };
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface SnapshotDiff {
  added: ObjectRef[];
  removed: ObjectRef[];
  /** Same uid, different resourceVersion: the object was written between the snapshots. */
  changed: ObjectRef[];
}

export function objectRef(o: KubeObject): ObjectRef {
  const meta = (typeof o['metadata'] === 'object' && o['metadata'] !== null ? o['metadata'] : {}) as Record<
    string,
    unknown
  >;
  const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const namespace = s(meta['namespace']);
  const uid = s(meta['uid']);
  const resourceVersion = s(meta['resourceVersion']);
  return {
    apiVersion: s(o['apiVersion']) ?? '',
    kind: s(o['kind']) ?? '',
    ...(namespace ? { namespace } : {}),
    name: s(meta['name']) ?? '',
    ...(uid ? { uid } : {}),
    ...(resourceVersion ? { resourceVersion } : {}),
  };
}

// uid identifies an object across renames-by-recreation; objects without one (never from a
// real API server) fall back to their coordinates.
function identity(r: ObjectRef): string {
  return r.uid ?? `${r.apiVersion}\u0000${r.kind}\u0000${r.namespace ?? ''}\u0000${r.name}`;
}

/** What changed from snapshot `a` to snapshot `b`, by uid and resourceVersion. */
export function diffSnapshots(a: Pick<Snapshot, 'objects'>, b: Pick<Snapshot, 'objects'>): SnapshotDiff {
  const before = new Map<string, ObjectRef>();
  for (const o of a.objects) {
    const r = objectRef(o);
    before.set(identity(r), r);
  }
  const diff: SnapshotDiff = { added: [], removed: [], changed: [] };
  for (const o of b.objects) {
    const r = objectRef(o);
    const id = identity(r);
    const old = before.get(id);
    if (!old) diff.added.push(r);
    else {
      if (old.resourceVersion !== r.resourceVersion) diff.changed.push(r);
      before.delete(id);
    }
  }
  diff.removed.push(...before.values());
  return diff;
}
