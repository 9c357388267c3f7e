// bench attack-paths: buildAttackPaths over a synthetic cluster of 10,000 bare Pods (not owned
// by a controller, so every one is a workload of its own — the worst case), half of them behind
// LoadBalancer or NodePort Services, with privileges (privileged, docker socket, host PID,
// SYS_ADMIN), 2,000 RBAC objects granting risky rights to their service accounts, and an image
// vulnerability lookup. Times buildAttackPaths alone over a built index (what the server calls
// with its stored vulnerability counts), and attackPathsOfObjects end to end (index included).
// Target: buildAttackPaths well under 0.5 s. Prints figures; never asserts.
//
//   npx tsc -b packages/posture && node bench/attack-paths.mjs
import { ClusterIndex, attackPathsOfObjects, buildAttackPaths } from '../packages/posture/dist/src/index.js';

const TARGET_MS = 500;
const PODS = 10_000;
const NAMESPACES = 50;
const RBAC = 2_000;
const IMAGES = ['nginx:1.25', 'redis:7.2', 'postgres:16', 'ghcr.io/acme/api:2.4.1', 'grafana/grafana:9.0.0'];
const VULNS = new Map([
  ['nginx:1.25', { critical: 3, high: 7, kev: 1, fixable: 9 }],
  ['redis:7.2', { critical: 0, high: 2, kev: 0, fixable: 2 }],
  ['grafana/grafana:9.0.0', { critical: 2, high: 11, kev: 0, fixable: 13, epss: 0.3 }],
]);

const ns = (i) => `team-${String(i % NAMESPACES).padStart(2, '0')}`;

function generate() {
  const objects = [];
  for (let i = 0; i < PODS; i++) {
    const volumes = i % 11 === 0 ? [{ name: 'docker', hostPath: { path: '/var/run/docker.sock' } }] : [];
    objects.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${i}`, namespace: ns(i), labels: { app: `app-${i >> 1}`, tier: 'web' } },
      spec: {
        serviceAccountName: `sa-${i % 200}`,
        nodeName: `node-${i % 100}`,
        ...(i % 13 === 0 ? { hostPID: true } : {}),
        containers: [
          {
            name: 'main',
            image: IMAGES[i % IMAGES.length],
            securityContext: {
              privileged: i % 7 === 0,
              ...(i % 17 === 0 ? { capabilities: { add: ['SYS_ADMIN'] } } : {}),
            },
            ports: [{ containerPort: 8080, ...(i % 97 === 0 ? { hostPort: 8080 } : {}) }],
          },
          { name: 'proxy', image: 'envoyproxy/envoy:v1.31.0' },
        ],
        volumes,
      },
    });
  }
  for (let i = 0; i < PODS / 2; i += 2) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: ns(i * 2) },
      spec: {
        type: i % 4 === 0 ? 'LoadBalancer' : 'NodePort',
        selector: { app: `app-${i}` },
        ports: [{ port: 443, nodePort: 30000 + (i % 2000) }],
      },
    });
  }
  const rules = [
    [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
    [{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['create', 'get'] }],
    [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
  ];
  for (let i = 0; i < RBAC / 2; i++) {
    const cluster = i % 10 === 0;
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: cluster ? 'ClusterRole' : 'Role',
      metadata: { name: `role-${i}`, ...(cluster ? {} : { namespace: ns(i) }) },
      rules: rules[i % rules.length],
    });
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: cluster ? 'ClusterRoleBinding' : 'RoleBinding',
      metadata: { name: `binding-${i}`, ...(cluster ? {} : { namespace: ns(i) }) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: cluster ? 'ClusterRole' : 'Role', name: `role-${i}` },
      subjects: [{ kind: 'ServiceAccount', name: `sa-${i % 200}`, namespace: ns(i) }],
    });
  }
  return objects;
}

function indexOf(objects) {
  const index = new ClusterIndex();
  objects.forEach((obj, document) =>
    index.add({ obj, document, locate: () => undefined }, 'bench', obj.kind, obj.apiVersion),
  );
  return index;
}

const lookup = (ref) => VULNS.get(ref);
const objects = generate();

/** Wall and CPU milliseconds of buildAttackPaths over fresh indexes (graph and RBAC model included). */
function time(maxPaths, rounds) {
  const wall = [];
  const cpu = [];
  let paths = [];
  for (let r = 0; r < rounds; r++) {
    const index = indexOf(objects);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    paths = buildAttackPaths(index, { imageVulnerabilities: lookup, maxPaths });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: med(wall), cpu: med(cpu), paths: paths.length };
}

time(100, 2); // warm-up: a server calls this many times
const top = time(100, 7);
const all = time(Infinity, 7);
const t1 = process.hrtime.bigint();
attackPathsOfObjects(objects, { imageVulnerabilities: lookup });
const endToEnd = Number(process.hrtime.bigint() - t1) / 1e6;
console.log(
  `attack paths: ${PODS.toLocaleString('en')} bare pods, ${objects.length.toLocaleString('en')} objects, ${all.paths.toLocaleString('en')} paths in all`,
);
for (const [name, r] of [
  ['top 100 (default)', top],
  ['every path', all],
]) {
  console.log(
    `buildAttackPaths, ${name}: median ${r.wall.toFixed(0)} ms wall, ${r.cpu.toFixed(0)} ms CPU — target ≤ ${TARGET_MS} ms: ${r.wall <= TARGET_MS ? 'ok' : 'MISSED'}`,
  );
}
console.log(`attackPathsOfObjects (index built too): ${endToEnd.toFixed(0)} ms`);
