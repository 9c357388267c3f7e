/**
 * The RBAC model and the exposure graph in detail: subjects resolved through bindings and
 * aggregated ClusterRoles, effective permissions, what each finding names (subject, verb and
 * resource, binding → role path, field path and line), and the selector graph's routes in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterIndex, ExposureGraph, RbacModel, readManifestText, scanManifests } from '../src/index.js';

function indexOf(text: string): ClusterIndex {
  const index = new ClusterIndex();
  for (const e of readManifestText(text, 'x.yaml')) {
    if (e.kind !== 'object') continue;
    const kind = e.value.obj.kind as string;
    index.add(e.value, 'x.yaml', kind, e.value.obj.apiVersion as string);
  }
  return index;
}

const RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aggregate
aggregationRule:
  clusterRoleSelectors:
    - matchExpressions:
        - { key: example.com/agg, operator: In, values: ["yes"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: part
  labels: { example.com/agg: "yes" }
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get"]
  - apiGroups: [""]
    resources: ["nodes/proxy"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ns-bind, namespace: shop }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregate }
subjects:
  - { kind: ServiceAccount, name: app }
  - { kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: cluster-bind }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregate }
subjects:
  - { kind: User, name: bob, apiGroup: rbac.authorization.k8s.io }
`;

test('RBAC model: aggregation, subjects resolved, effective permissions per namespace', () => {
  const model = new RbacModel(indexOf(RBAC));
  const agg = model.clusterRoles.get('aggregate');
  assert.deepEqual(
    agg?.rules.map((r) => `${r.from} rules[${r.index}]`),
    ['ClusterRole part rules[0]', 'ClusterRole part rules[1]'],
  );
  const perms = model.effectivePermissions();
  // A RoleBinding's ServiceAccount without namespace is in the binding's namespace.
  assert.deepEqual(perms.get('ServiceAccount shop/app')?.get('shop'), ['get core/nodes/proxy', 'get core/secrets']);
  assert.deepEqual([...(perms.get('User bob')?.keys() ?? [])], ['*']);
  assert.deepEqual([...perms.keys()], ['Group devs', 'ServiceAccount shop/app', 'User bob']);
});

test('RBAC findings name subject, permission, binding → role path, field and line', () => {
  const r = scanManifests([{ file: 'rbac.yaml', text: RBAC }]);
  const secrets = r.misconfigurations.filter((m) => m.checkId === 'rbac-secrets-access');
  assert.deepEqual(
    secrets.map((m) => `${m.resource.kind}/${m.resource.name} ${m.path} @${m.source?.line}: ${m.message}`),
    [
      'ClusterRole/part rules[0] @16: ClusterRole part allows get secrets (rules[0])',
      'RoleBinding/ns-bind subjects[0] @28: ServiceAccount shop/app can get secrets in namespace shop via RoleBinding shop/ns-bind → ClusterRole aggregate (ClusterRole part rules[0])',
      'RoleBinding/ns-bind subjects[1] @29: Group devs can get secrets in namespace shop via RoleBinding shop/ns-bind → ClusterRole aggregate (ClusterRole part rules[0])',
      'ClusterRoleBinding/cluster-bind subjects[0] @36: User bob can get secrets cluster-wide via ClusterRoleBinding cluster-bind → ClusterRole aggregate (ClusterRole part rules[0])',
    ],
  );
  const first = secrets[0];
  assert.deepEqual(first?.frameworks.CIS, ['5.1.2']);
  // nodes/proxy is cluster-scoped: a RoleBinding cannot grant it, a ClusterRoleBinding can.
  const proxy = r.misconfigurations.filter(
    (m) => m.checkId === 'rbac-nodes-proxy' && m.resource.kind !== 'ClusterRole',
  );
  assert.deepEqual(
    proxy.map((m) => m.resource.name),
    ['cluster-bind'],
  );
});

const EXPOSURE = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata:
      labels: { app: web, tier: front }
    spec:
      containers: [{ name: main, image: "nginx:1.27" }]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-abc
  namespace: shop
  labels: { app: web, tier: front }
  ownerReferences: [{ apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u, controller: true }]
spec:
  containers: [{ name: main, image: "nginx:1.27" }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { type: NodePort, selector: { app: web, tier: front } }
---
apiVersion: v1
kind: Service
metadata: { name: web-internal, namespace: shop }
spec: { selector: { app: web } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web, namespace: shop }
spec:
  defaultBackend: { service: { name: web-internal, port: { number: 80 } } }
`;

test('exposure graph: routes in through Services and Ingresses; owned pods reported through their owner', () => {
  const graph = new ExposureGraph(indexOf(EXPOSURE));
  const entries = [...graph.exposed.entries()].map(([w, paths]) => [
    `${w.at.kind}/${w.at.name}`,
    paths.map((p) => p.route),
  ]);
  assert.deepEqual(entries, [
    ['Deployment/web', ['Service shop/web (NodePort)', 'Ingress shop/web → Service shop/web-internal']],
  ]);
  const r = scanManifests([{ file: 'e.yaml', text: EXPOSURE }]);
  const f = r.misconfigurations.filter((m) => m.checkId === 'exposure-external-workload');
  assert.equal(f.length, 1);
  assert.equal(f[0]?.path, 'spec.template.metadata.labels');
  assert.equal(f[0]?.source?.line, 8);
  assert.deepEqual(f[0]?.frameworks.MITRE, ['T1133', 'T1190']);
});

test('cross-object checks can be skipped, and output is the same for the same input', () => {
  const a = scanManifests([{ file: 'rbac.yaml', text: RBAC }], { clock: { now: () => new Date(0) } });
  const b = scanManifests([{ file: 'rbac.yaml', text: RBAC }], { clock: { now: () => new Date(0) } });
  assert.deepEqual(a, b);
  const skipped = scanManifests([{ file: 'rbac.yaml', text: RBAC }], { skip: ['rbac-secrets-access'] });
  assert.equal(skipped.misconfigurations.filter((m) => m.checkId === 'rbac-secrets-access').length, 0);
  const pssOnly = scanManifests([{ file: 'rbac.yaml', text: RBAC }], { pssOnly: true });
  assert.equal(pssOnly.misconfigurations.length, 0);
});
