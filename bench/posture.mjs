// bench posture: a synthetic cluster — 10,000 pods in 1,000 Deployments, 2,000 RBAC objects,
// 500 Services (plus Ingresses and HTTPRoutes in front of some) — generated in memory as a
// `kubectl get -A -o json` dump (one List per kind), then scanned with every check in force
// (PSS, workload, RBAC, exposure). Prints wall time and peak RSS against the targets
// (≤ 3 s, ≤ 500 MB); never asserts, so it can run on any machine.
//
//   npx tsc -b packages/posture && node bench/posture.mjs [--yaml] [--yaml-50mb] [--dump FILE]
//
// --yaml also scans the same cluster rendered as one multi-document YAML stream (slower to
// parse: the yaml library builds a node tree per document for line numbers).
// --yaml-50mb writes two 50 MB YAML files to bench/.work (one kubectl `List` document, and a
// stream of one document per object) and scans each in a child process: time and peak RSS.
// --dump FILE writes the findings as JSON lines, to compare the output of two builds.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanManifests } from '../packages/posture/dist/src/index.js';

const TARGET_MS = 3000;
const TARGET_MB = 500;
const NAMESPACES = 50;
const WORKLOADS = 1000;
const REPLICAS = 10;
const SERVICES = 500;
const RBAC = 2000;

const ns = (i) => `team-${String(i % NAMESPACES).padStart(2, '0')}`;
const IMAGES = [
  'nginx:1.27',
  'redis:7.2',
  'postgres:16',
  'ghcr.io/acme/api:2.4.1',
  'ghcr.io/acme/worker@sha256:' + 'a'.repeat(64),
];

/** A realistic pod spec: two containers, env, probes, resources, volumes, some hardened, some not. */
function podSpec(i) {
  const image = IMAGES[i % IMAGES.length];
  const hardened = i % 3 === 0;
  const main = {
    name: 'main',
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP', ...(i % 97 === 0 ? { hostPort: 8080 } : {}) }],
    env: [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: `db-${i}`, key: 'password' } } },
      ...(image.startsWith('postgres') && i % 2 === 0 ? [{ name: 'POSTGRES_HOST_AUTH_METHOD', value: 'trust' }] : []),
    ],
    resources: {
      requests: { cpu: '100m', memory: '128Mi' },
      ...(hardened ? { limits: { cpu: '500m', memory: '256Mi' } } : {}),
    },
    livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, initialDelaySeconds: 10, periodSeconds: 10 },
    readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/app' },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    securityContext: hardened
      ? {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        }
      : { privileged: i % 50 === 0 },
  };
  const sidecar = {
    name: 'proxy',
    image: 'envoyproxy/envoy:v1.31.0',
    args: ['--config-path', '/etc/envoy/envoy.yaml'],
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
  };
  return {
    serviceAccountName: i % 4 === 0 ? 'default' : `app-${i % 200}`,
    ...(i % 101 === 0 ? { hostNetwork: true } : {}),
    containers: [main, sidecar],
    volumes: [
      { name: 'config', configMap: { name: `cfg-${i}` } },
      { name: 'tmp', emptyDir: {} },
    ],
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'apps', effect: 'NoSchedule' }],
  };
}

function labels(i) {
  return { app: `app-${i}`, tier: i % 2 === 0 ? 'web' : 'backend', 'app.kubernetes.io/part-of': `suite-${i % 20}` };
}

function generate() {
  const deployments = [];
  const pods = [];
  for (let i = 0; i < WORKLOADS; i++) {
    const spec = podSpec(i);
    deployments.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `app-${i}`, namespace: ns(i), labels: labels(i), uid: `d-${i}` },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: labels(i) },
        template: { metadata: { labels: labels(i) }, spec },
      },
    });
    for (let r = 0; r < REPLICAS; r++) {
      pods.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `app-${i}-7d9f8c6b5-${r}`,
          namespace: ns(i),
          labels: { ...labels(i), 'pod-template-hash': '7d9f8c6b5' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${i}-7d9f8c6b5`, uid: `rs-${i}`, controller: true },
          ],
        },
        spec: { ...spec, nodeName: `node-${(i * REPLICAS + r) % 100}` },
        status: { phase: 'Running', podIP: `10.1.${i % 250}.${r}` },
      });
    }
  }
  const services = [];
  for (let i = 0; i < SERVICES; i++) {
    const type = i % 10 === 0 ? 'LoadBalancer' : i % 10 === 1 ? 'NodePort' : 'ClusterIP';
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `app-${i * 2}`, namespace: ns(i * 2) },
      spec: {
        type,
        selector: { app: `app-${i * 2}` },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        ...(type === 'LoadBalancer' && i % 20 === 0 ? { loadBalancerSourceRanges: ['0.0.0.0/0'] } : {}),
      },
    });
  }
  const ingresses = [];
  const routes = [];
  for (let i = 2; i < SERVICES; i += 10) {
    const svc = services[i];
    ingresses.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace },
      spec: {
        rules: [
          {
            host: `${svc.metadata.name}.example.com`,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: svc.metadata.name, port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
    const svc2 = services[i + 1];
    routes.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: svc2.metadata.name, namespace: svc2.metadata.namespace },
      spec: {
        parentRefs: [{ name: 'public', namespace: 'gateways' }],
        rules: [{ backendRefs: [{ name: svc2.metadata.name, port: 80 }] }],
      },
    });
  }
  // RBAC: a quarter each of Roles, RoleBindings, ClusterRoles (some aggregated), ClusterRoleBindings.
  const rbac = [];
  const quarter = RBAC / 4;
  const ruleSets = [
    [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }],
    [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
    [{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['create', 'get'] }],
    [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }],
    [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
  ];
  for (let i = 0; i < quarter; i++) {
    rbac.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `role-${i}`, namespace: ns(i) },
      rules: ruleSets[i % ruleSets.length],
    });
    rbac.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `rb-${i}`, namespace: ns(i) },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: i % 7 === 0 ? 'ClusterRole' : 'Role',
        name: i % 7 === 0 ? 'edit' : `role-${i}`,
      },
      subjects: [
        { kind: 'ServiceAccount', name: i % 9 === 0 ? 'default' : `app-${i % 200}`, namespace: ns(i) },
        { kind: 'User', name: `user-${i}@example.com`, apiGroup: 'rbac.authorization.k8s.io' },
      ],
    });
    const aggregated = i % 25 === 0;
    rbac.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `cr-${i}`, labels: { [`example.com/aggregate-to-agg-${i % 10}`]: 'true' } },
      ...(aggregated
        ? {
            aggregationRule: {
              clusterRoleSelectors: [{ matchLabels: { [`example.com/aggregate-to-agg-${(i / 25) % 10}`]: 'true' } }],
            },
          }
        : {}),
      rules: aggregated ? [] : ruleSets[(i + 1) % ruleSets.length],
    });
    rbac.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `crb-${i}` },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: i % 50 === 0 ? 'cluster-admin' : `cr-${i}`,
      },
      subjects: [
        i % 100 === 0
          ? { kind: 'Group', name: 'system:authenticated', apiGroup: 'rbac.authorization.k8s.io' }
          : { kind: 'Group', name: `group-${i}`, apiGroup: 'rbac.authorization.k8s.io' },
      ],
    });
  }
  const list = (items) => JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: {}, items }, null, 2);
  return {
    counts: {
      pods: pods.length,
      workloads: deployments.length,
      rbac: rbac.length,
      services: services.length,
      ingresses: ingresses.length,
      routes: routes.length,
    },
    inputs: [
      { file: 'pods.json', text: list(pods) },
      { file: 'deployments.json', text: list(deployments) },
      { file: 'services.json', text: list([...services, ...ingresses, ...routes]) },
      { file: 'rbac.json', text: list(rbac) },
    ],
    objects: [...pods, ...deployments, ...services, ...ingresses, ...routes, ...rbac],
  };
}

function mb(bytes) {
  return (bytes / (1024 * 1024)).toFixed(0);
}

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** --dump FILE: the findings as JSON lines (createdAt aside), to compare two engines' output. */
function dump(report, suffix) {
  const file = argValue('--dump');
  if (file === undefined) return;
  const lines = report.misconfigurations.map((m) => JSON.stringify(m));
  writeFileSync(`${file}${suffix}`, lines.join('\n') + '\n' + JSON.stringify(report.summary) + '\n');
}

function run(label, inputs, suffix = '') {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const report = scanManifests(inputs);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c1 = process.cpuUsage(c0);
  const cpuMs = (c1.user + c1.system) / 1000;
  const byFamily = {};
  for (const m of report.misconfigurations) {
    const fam = m.checkId.split('-')[0];
    byFamily[fam] = (byFamily[fam] ?? 0) + 1;
  }
  const rssMb = Number(mb(process.resourceUsage().maxRSS * 1024));
  dump(report, suffix);
  console.log(
    `${label}: ${ms.toFixed(0)} ms (target ≤ ${TARGET_MS} ms: ${ms <= TARGET_MS ? 'met' : 'OVER'}; CPU ${cpuMs.toFixed(0)} ms), ` +
      `peak RSS ${rssMb} MB so far (target ≤ ${TARGET_MB} MB: ${rssMb <= TARGET_MB ? 'met' : 'OVER'}), ` +
      `${report.summary.objects} objects, ${report.checks.length} checks, ${report.misconfigurations.length} findings ` +
      JSON.stringify(byFamily),
  );
}

/**
 * --scan-file FILE (the child of --yaml-50mb): read one manifest file and scan it with every
 * check, in a process of its own so its peak RSS is that of the scan alone.
 */
function scanFile(file) {
  const text = readFileSync(file, 'utf8');
  const t0 = process.hrtime.bigint();
  const report = scanManifests([{ file: basename(file), text }]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rssMb = Number(mb(process.resourceUsage().maxRSS * 1024));
  const lines = report.misconfigurations.map((m) => m.source?.line ?? 0);
  console.log(
    // No target here: the issue asks for bounded memory, which follows the findings (~0.5 KB each).
    `scan ${basename(file)} (${mb(text.length)} MB): ${ms.toFixed(0)} ms, peak RSS ${rssMb} MB, ` +
      `${report.summary.objects} objects, ${report.misconfigurations.length} findings, ` +
      `${report.errors.length} errors, last finding line ${lines.reduce((a, b) => Math.max(a, b), 0)}`,
  );
}

/**
 * The synthetic cluster's objects, repeated (renamed) until 50 MB of YAML: one kubectl `List`
 * document, or a stream of one document per object. No anchors/aliases, as kubectl writes.
 */
async function writeYaml50(file, shape, objects) {
  const { stringify } = await import('yaml');
  const options = { lineWidth: 0, aliasDuplicateObjects: false };
  const target = 50 * 1024 * 1024;
  const picked = [];
  const docs = [];
  let size = 0;
  for (let i = 0; size < target; i++) {
    const o = objects[i % objects.length];
    const copy = { ...o, metadata: { ...o.metadata, name: `${o.metadata.name}-${Math.floor(i / objects.length)}` } };
    picked.push(copy);
    const doc = stringify(copy, options);
    if (shape === 'stream') docs.push(doc);
    size += doc.length + 4;
  }
  const text =
    shape === 'list'
      ? stringify(
          { apiVersion: 'v1', items: picked, kind: 'List', metadata: { resourceVersion: '' } },
          { ...options, indentSeq: false },
        )
      : docs.join('---\n');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return text.length;
}

if (argValue('--scan-file') !== undefined) {
  scanFile(argValue('--scan-file'));
  process.exit(0);
}

const g0 = process.hrtime.bigint();
const { counts, inputs, objects } = generate();
const genMs = Number(process.hrtime.bigint() - g0) / 1e6;
const bytes = inputs.reduce((n, i) => n + i.text.length, 0);
console.log(`generated ${JSON.stringify(counts)} as ${mb(bytes)} MB of JSON in ${genMs.toFixed(0)} ms`);
run('scan (JSON dump, all checks)', inputs);
if (process.argv.includes('--yaml')) {
  const { stringify } = await import('yaml');
  const text = objects.map((o) => stringify(o)).join('---\n');
  console.log(`YAML stream: ${mb(text.length)} MB`);
  run('scan (YAML stream, all checks)', [{ file: 'cluster.yaml', text }], '.yaml');
}
if (process.argv.includes('--yaml-50mb')) {
  // Bad input of the issue: a 50 MB manifest, as one List document and as a document stream.
  const work = join(dirname(fileURLToPath(import.meta.url)), '.work');
  for (const shape of ['list', 'stream']) {
    const file = join(work, `posture-${shape}-50mb.yaml`);
    const size = await writeYaml50(file, shape, objects);
    console.log(
      `wrote ${file} (${mb(size)} MB, ${shape === 'list' ? 'one List document' : 'one document per object'})`,
    );
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--scan-file', file], { stdio: 'inherit' });
  }
}
