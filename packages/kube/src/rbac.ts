/**
 * The RBAC Palisade needs to read a cluster, generated from the kind tables so they cannot
 * drift: get/list/watch on exactly the kinds a snapshot lists and the inventory collector
 * watches (the snapshot kinds plus core/v1 Events), nothing else. No rule names secrets (or
 * `*`), so the ServiceAccount can never read secret data.
 */
import { stringify } from 'yaml';
import { WATCH_KINDS } from './watch.js';

export interface RbacOptions {
  /** Namespace of the ServiceAccount (default `palisade`). */
  namespace?: string;
  /** Name of the ServiceAccount, ClusterRole and binding (default `palisade-reader`). */
  name?: string;
}

/** A YAML stream: ServiceAccount, ClusterRole (read-only), ClusterRoleBinding. */
export function readOnlyRbacManifests(options: RbacOptions = {}): string {
  return readOnlyRbacObjects(options)
    .map((d) => stringify(d, { lineWidth: 0 }))
    .join('---\n');
}

/** The same objects, for `palisade cluster bind` to apply. */
export function readOnlyRbacObjects(options: RbacOptions = {}): Array<Record<string, unknown>> {
  const namespace = options.namespace ?? 'palisade';
  const name = options.name ?? 'palisade-reader';
  const byGroup = new Map<string, string[]>();
  for (const k of WATCH_KINDS) {
    const group = k.apiVersion.includes('/') ? (k.apiVersion.split('/')[0] ?? '') : '';
    const list = byGroup.get(group) ?? [];
    if (!list.includes(k.resource)) list.push(k.resource);
    byGroup.set(group, list);
  }
  const labels = { 'app.kubernetes.io/name': 'palisade', 'app.kubernetes.io/component': 'cluster-reader' };
  const docs = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: [...byGroup.entries()].map(([group, resources]) => ({
        apiGroups: [group],
        resources: [...resources].sort(),
        verbs: ['get', 'list', 'watch'],
      })),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  ];
  return docs;
}
