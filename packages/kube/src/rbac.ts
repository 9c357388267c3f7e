/**
 * The RBAC Palisade needs to read a cluster, generated from the snapshot's kind table so the
 * two cannot drift: get/list/watch on exactly the kinds a snapshot lists, nothing else. No
 * rule names secrets (or `*`), so the ServiceAccount can never read secret data.
 */
import { stringify } from 'yaml';
import { SNAPSHOT_KINDS } from './snapshot.js';

export interface RbacOptions {
  /** Namespace of the ServiceAccount (default `palisade`). */
  namespace?: string;
  /** Name of the ServiceAccount, ClusterRole and binding (default `palisade-reader`). */
  name?: string;
}

/** A YAML stream: ServiceAccount, ClusterRole (read-only), ClusterRoleBinding. */
export function readOnlyRbacManifests(options: RbacOptions = {}): string {
  const namespace = options.namespace ?? 'palisade';
  const name = options.name ?? 'palisade-reader';
  const byGroup = new Map<string, string[]>();
  for (const k of SNAPSHOT_KINDS) {
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
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
