/**
 * The cluster index: what cross-object checks (RBAC, exposure) need of the input, gathered
 * while documents stream through the engine. RBAC objects, ServiceAccounts, Services,
 * Ingresses and Gateway API objects are few and kept whole (with their locator, so findings
 * point at lines); workloads are many and reduced to a compact summary at once, so memory
 * follows the number of workloads, not the size of their manifests.
 */
import { locateAll, type Locator, type ManifestObject, type Position } from './manifest.js';
import { formatPath, objAt, strAt, type FieldPath, type JsonObject } from './path.js';
import { summarizeWorkload, type WorkloadSummary } from './exposure.js';
import { WORKLOAD_KINDS } from './workload.js';

/** An object of the input, with where it came from: what an analysis finding is reported on. */
export interface Located {
  kind: string;
  apiVersion: string;
  namespace: string | undefined;
  name: string;
  file: string;
  document: number;
  obj: JsonObject;
  locate: Locator;
}

/** Gateway API route kinds: each attaches backends to Gateways. */
export const ROUTE_KINDS: readonly string[] = ['GRPCRoute', 'HTTPRoute', 'TCPRoute', 'TLSRoute', 'UDPRoute'];

/** Kinds the index keeps whole. */
const KEPT_KINDS = new Set([
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ServiceAccount',
  'Service',
  'Ingress',
  'Gateway',
  ...ROUTE_KINDS,
  // Namespace-level checks (a namespace with no NetworkPolicy, LimitRange, quota or admission
  // policy) judge these after the whole input is read.
  'Namespace',
  'NetworkPolicy',
  'LimitRange',
  'ResourceQuota',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

const WORKLOADS = new Set(WORKLOAD_KINDS);

export class ClusterIndex {
  /** Kept objects by kind, in input order. */
  private readonly byKind = new Map<string, Located[]>();
  readonly workloads: WorkloadSummary[] = [];

  /** Take what analysis needs of one object (called by the engine for every known kind). */
  add(m: ManifestObject, file: string, kind: string, apiVersion: string): void {
    const meta = objAt(m.obj, 'metadata');
    const namespace = strAt(meta, 'namespace');
    const name = strAt(meta, 'name') ?? strAt(meta, 'generateName') ?? '(unnamed)';
    if (KEPT_KINDS.has(kind)) {
      const at: Located = {
        kind,
        apiVersion,
        namespace,
        name,
        file,
        document: m.document,
        obj: m.obj,
        locate: m.locate,
      };
      let list = this.byKind.get(kind);
      if (list === undefined) this.byKind.set(kind, (list = []));
      list.push(at);
    } else if (WORKLOADS.has(kind)) {
      const s = summarizeWorkload(m, file, kind, apiVersion, namespace, name);
      if (s !== undefined) this.workloads.push(s);
    }
  }

  /** Kept objects of a kind, in input order. */
  of(kind: string): readonly Located[] {
    return this.byKind.get(kind) ?? [];
  }
}

/**
 * A locator that answers from positions looked up once, for an object not kept whole: the
 * given paths are located now (while the parse tree is alive); any other path answers with
 * its longest located prefix, the nearest parent, as the engine does for missing fields.
 */
export function prelocated(m: ManifestObject, paths: readonly FieldPath[]): Locator {
  const known = new Map<string, Position | undefined>();
  // All at once: one pass over the object's text for JSON input.
  const positions = locateAll(m, [[], ...paths]);
  known.set('', positions[0]);
  paths.forEach((p, i) => known.set(formatPath(p), positions[i + 1]));
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const key = formatPath(path.slice(0, n));
      if (known.has(key)) return known.get(key);
    }
    return undefined;
  };
}
