/**
 * Exposure: which workloads are reachable from outside the cluster, through the selector graph
 * workload ← Service (LoadBalancer, NodePort, externalIPs) ← Ingress / Gateway API routes, or
 * directly on the node (hostNetwork, hostPort); and Microsoft Defender for Containers' exposure
 * detections (Kubernetes dashboard, Kubeflow, Redis without auth, PostgreSQL with trust auth or
 * open source ranges), judged statically on the manifests.
 */
import type { AnalysisViolation, Check, Violation } from './check.js';
import { ROUTE_KINDS, prelocated, type ClusterIndex, type Located } from './analysis.js';
import type { ManifestObject } from './manifest.js';
import { arrAt, isObject, numAt, objAt, strAt, type FieldPath, type JsonObject } from './path.js';
import { labelsOf } from './rbac.js';
import { containersOf, podOf, type PodView } from './workload.js';

/** A finding-worthy field of a workload, with its path (positions were looked up at read time). */
interface Flag {
  path: FieldPath;
  detail: string;
}

/** A hostPort flag, with the port. */
interface PortFlag extends Flag {
  port: number;
}

/** What exposure needs of a workload: labels to match selectors, and what it runs. */
export interface WorkloadSummary {
  at: Located;
  namespace: string;
  podLabels: Record<string, string>;
  labelsPath: FieldPath;
  /** Owned by a controller (a Deployment's ReplicaSet, its Pods): the owner is reported instead. */
  owned: boolean;
  hostNetwork?: Flag;
  hostPorts: PortFlag[];
  dashboard?: Flag;
  kubeflow?: Flag;
  redisNoAuth?: Flag;
  postgresTrust?: Flag;
  postgres: boolean;
  /** What attack paths need of the pod: what it runs and the privileges it holds. */
  pod: PodFacts;
}

/**
 * A pod's privileges and images, reduced at read time for attack paths (attack-paths.ts).
 * No field positions: these are never a finding's field, so they cost no locator lookups.
 */
export interface PodFacts {
  /** `spec.serviceAccountName` (or the deprecated `serviceAccount`), default `default`. */
  serviceAccount: string;
  /** The pod's own `automountServiceAccountToken`; undefined leaves it to the ServiceAccount. */
  automountToken?: boolean;
  images: Array<{ container: string; image: string }>;
  /** Names of the containers that run privileged. */
  privileged: string[];
  hostPID: boolean;
  hostIPC: boolean;
  /** Capabilities added, upper-cased without `CAP_`. */
  capabilities: Array<{ container: string; cap: string }>;
  hostPaths: Array<{ volume: string; path: string }>;
  /** The node the pod is bound to (`spec.nodeName`, or a `kubernetes.io/hostname` node selector). */
  nodeName?: string;
}

const DASHBOARD_IMAGE = /(^|\/)(kubernetesui\/dashboard(-web|-api)?|kubernetes-dashboard(-amd64)?)(:|@|$)/;
const KUBEFLOW_IMAGE =
  /kubeflow.*\/(centraldashboard|jupyter-web-app|katib-ui|ml-pipeline-ui|kfp-frontend)|\/kubeflow\/centraldashboard/;
const REDIS_IMAGE = /(^|\/)(redis|redis-stack(-server)?|valkey)(:|@|$)/;
const POSTGRES_IMAGE = /(^|\/)(postgres|postgresql|postgis)(:|@|$)/;

function envValue(c: JsonObject, name: string): { value: string; index: number } | undefined {
  const env = arrAt(c, 'env');
  for (let i = 0; i < env.length; i++) {
    if (strAt(env[i], 'name') === name) {
      const value = strAt(env[i], 'value');
      // valueFrom counts as set: the value comes from a Secret or ConfigMap.
      return { value: value ?? (isObject(objAt(env[i], 'valueFrom')) ? '(from reference)' : ''), index: i };
    }
  }
  return undefined;
}

function argv(c: JsonObject): string[] {
  return [...arrAt(c, 'command'), ...arrAt(c, 'args')].filter((v): v is string => typeof v === 'string');
}

/** Reduce a workload object to what exposure needs; undefined for kinds without a pod. */
export function summarizeWorkload(
  m: ManifestObject,
  file: string,
  kind: string,
  apiVersion: string,
  namespace: string | undefined,
  name: string,
): WorkloadSummary | undefined {
  const pod = podOf(m.obj);
  if (pod === undefined) return undefined;
  // A controller's pods and ReplicaSets are reached through their owner, which is reported
  // instead; dropping them here keeps a 10,000-pod dump from being summarized pod by pod.
  if (arrAt(objAt(m.obj, 'metadata'), 'ownerReferences').some((o) => isObject(o) && o.controller === true))
    return undefined;
  const labelsPath: FieldPath = [...pod.metaPath, 'labels'];
  const paths: FieldPath[] = [labelsPath];
  const s: Omit<WorkloadSummary, 'at'> = {
    namespace: namespace ?? 'default',
    podLabels: labelsOf({ metadata: pod.meta }),
    labelsPath,
    owned: false,
    hostPorts: [],
    postgres: false,
    pod: podFacts(pod),
  };
  const flag = (path: FieldPath, detail: string): Flag => {
    paths.push(path);
    return { path, detail };
  };
  if (pod.spec.hostNetwork === true)
    s.hostNetwork = flag(
      [...pod.specPath, 'hostNetwork'],
      'hostNetwork: true (every container port is open on the node address)',
    );
  for (const c of containersOf(pod, ['initContainers', 'containers'])) {
    arrAt(c.c, 'ports').forEach((p, i) => {
      const hp = numAt(p, 'hostPort');
      if (hp !== undefined && hp > 0)
        s.hostPorts.push({
          ...flag([...c.path, 'ports', i, 'hostPort'], `container ${c.name} hostPort ${hp}`),
          port: hp,
        });
    });
    const image = strAt(c.c, 'image') ?? '';
    const imagePath = [...c.path, 'image'];
    if (s.dashboard === undefined && (DASHBOARD_IMAGE.test(image) || s.podLabels['k8s-app'] === 'kubernetes-dashboard'))
      s.dashboard = flag(imagePath, `container ${c.name} runs the Kubernetes dashboard (${image})`);
    if (s.kubeflow === undefined && KUBEFLOW_IMAGE.test(image))
      s.kubeflow = flag(imagePath, `container ${c.name} runs a Kubeflow dashboard (${image})`);
    if (REDIS_IMAGE.test(image) && s.redisNoAuth === undefined) {
      const args = argv(c.c);
      const empty = envValue(c.c, 'ALLOW_EMPTY_PASSWORD');
      const password = envValue(c.c, 'REDIS_PASSWORD') ?? envValue(c.c, 'REDIS_PASSWORD_FILE');
      const redisArgs = envValue(c.c, 'REDIS_ARGS')?.value ?? '';
      const requirePass =
        args.some((a) => /requirepass|aclfile/.test(a)) ||
        /requirepass|aclfile/.test(redisArgs) ||
        (password !== undefined && password.value.trim() !== '');
      if (empty !== undefined && /^(yes|true|1)$/i.test(empty.value))
        s.redisNoAuth = flag(
          [...c.path, 'env', empty.index, 'value'],
          `container ${c.name} runs Redis with ALLOW_EMPTY_PASSWORD=${empty.value}`,
        );
      else if (!requirePass)
        s.redisNoAuth = flag(
          imagePath,
          `container ${c.name} runs Redis (${image}) with no password (no requirepass, REDIS_PASSWORD or ACL file)`,
        );
    }
    if (POSTGRES_IMAGE.test(image)) {
      s.postgres = true;
      const trust = envValue(c.c, 'POSTGRES_HOST_AUTH_METHOD');
      const args = argv(c.c);
      const argIdx = args.findIndex((a) =>
        /host_auth_method=trust|\bhost\s+all\s+all\s+\S+\s+trust\b|auth[-_]host=trust/i.test(a),
      );
      if (s.postgresTrust === undefined && trust !== undefined && trust.value.toLowerCase() === 'trust')
        s.postgresTrust = flag(
          [...c.path, 'env', trust.index, 'value'],
          `container ${c.name} runs PostgreSQL with POSTGRES_HOST_AUTH_METHOD=trust`,
        );
      else if (s.postgresTrust === undefined && argIdx >= 0) {
        const inCommand = argIdx < arrAt(c.c, 'command').length;
        const i = inCommand ? argIdx : argIdx - arrAt(c.c, 'command').length;
        s.postgresTrust = flag(
          [...c.path, inCommand ? 'command' : 'args', i],
          `container ${c.name} runs PostgreSQL with trust authentication (${args[argIdx]})`,
        );
      }
    }
  }
  // Positions are looked up now: the parse tree is not kept for the thousands of workloads.
  // The object itself is dropped; findings need only its name and namespace.
  const obj: JsonObject = { metadata: { name, ...(namespace !== undefined ? { namespace } : {}) } };
  const at: Located = {
    kind,
    apiVersion,
    namespace,
    name,
    file,
    document: m.document,
    obj,
    locate: prelocated(m, paths),
  };
  return { ...s, at };
}

function podFacts(pod: PodView): PodFacts {
  const spec = pod.spec;
  const facts: PodFacts = {
    serviceAccount: strAt(spec, 'serviceAccountName') ?? strAt(spec, 'serviceAccount') ?? 'default',
    images: [],
    privileged: [],
    hostPID: spec.hostPID === true,
    hostIPC: spec.hostIPC === true,
    capabilities: [],
    hostPaths: [],
  };
  if (typeof spec.automountServiceAccountToken === 'boolean') facts.automountToken = spec.automountServiceAccountToken;
  const node = strAt(spec, 'nodeName') ?? strAt(objAt(spec, 'nodeSelector'), 'kubernetes.io/hostname');
  if (node !== undefined && node !== '') facts.nodeName = node;
  for (const c of containersOf(pod)) {
    const image = strAt(c.c, 'image');
    if (image !== undefined && image !== '') facts.images.push({ container: c.name, image });
    const sc = objAt(c.c, 'securityContext');
    if (sc?.privileged === true) facts.privileged.push(c.name);
    for (const cap of arrAt(objAt(sc, 'capabilities'), 'add'))
      if (typeof cap === 'string')
        facts.capabilities.push({ container: c.name, cap: cap.toUpperCase().replace(/^CAP_/, '') });
  }
  arrAt(spec, 'volumes').forEach((v, i) => {
    const path = strAt(objAt(v, 'hostPath'), 'path');
    if (path !== undefined) facts.hostPaths.push({ volume: strAt(v, 'name') ?? `volumes[${i}]`, path });
  });
  return facts;
}

/** How a workload is reached from outside. */
export interface ExposurePath {
  /** `Service shop/web (LoadBalancer)`, `Ingress shop/web → Service shop/web`. */
  route: string;
  service?: Located;
  /** The way in, for ranking and explaining attack paths. */
  entry: ExposureEntry;
}

/** The first hop of an exposure path: what listens outside the cluster. */
export interface ExposureEntry {
  via: 'LoadBalancer' | 'NodePort' | 'externalIPs' | 'Ingress' | 'Gateway' | 'hostPort' | 'hostNetwork';
  /** The Ingress (`ns/name`) or Gateway names, for those. */
  name?: string;
  /** Ports open outside: Service ports (node ports for NodePort), the host port. */
  ports: number[];
}

function selectorOf(svc: Located): Record<string, string> | undefined {
  const sel = objAt(objAt(svc.obj, 'spec'), 'selector');
  if (sel === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

function nsName(at: Located): string {
  return `${at.namespace ?? 'default'}/${at.name}`;
}

/** Why a Service is reachable from outside by itself, or undefined for ClusterIP/headless. */
function serviceExternal(svc: Located): 'LoadBalancer' | 'NodePort' | 'externalIPs' | undefined {
  const spec = objAt(svc.obj, 'spec');
  const type = strAt(spec, 'type');
  if (type === 'LoadBalancer' || type === 'NodePort') return type;
  if (arrAt(spec, 'externalIPs').length > 0) return 'externalIPs';
  return undefined;
}

/** The ports a Service opens for an entry: node ports for NodePort, service ports otherwise. */
function servicePorts(svc: Located, nodePorts: boolean): number[] {
  const out: number[] = [];
  for (const p of arrAt(objAt(svc.obj, 'spec'), 'ports')) {
    const n = nodePorts ? (numAt(p, 'nodePort') ?? numAt(p, 'port')) : numAt(p, 'port');
    if (n !== undefined && !out.includes(n)) out.push(n);
  }
  return out;
}

function ingressBackends(ing: Located): string[] {
  const spec = objAt(ing.obj, 'spec');
  const names: string[] = [];
  const add = (b: unknown): void => {
    const n = strAt(objAt(b, 'service'), 'name') ?? strAt(b, 'serviceName');
    if (n !== undefined && !names.includes(n)) names.push(n);
  };
  add(objAt(spec, 'defaultBackend'));
  add(objAt(spec, 'backend'));
  for (const r of arrAt(spec, 'rules')) for (const p of arrAt(objAt(r, 'http'), 'paths')) add(objAt(p, 'backend'));
  return names;
}

function routeBackends(route: Located): Array<{ namespace: string; name: string }> {
  const out: Array<{ namespace: string; name: string }> = [];
  for (const r of arrAt(objAt(route.obj, 'spec'), 'rules')) {
    for (const b of arrAt(r, 'backendRefs')) {
      const kind = strAt(b, 'kind') ?? 'Service';
      const name = strAt(b, 'name');
      if (kind !== 'Service' || name === undefined) continue;
      const namespace = strAt(b, 'namespace') ?? route.namespace ?? 'default';
      if (!out.some((o) => o.namespace === namespace && o.name === name)) out.push({ namespace, name });
    }
  }
  return out;
}

/** The selector graph, resolved: every externally reachable workload and its routes in. */
export class ExposureGraph {
  readonly exposed = new Map<WorkloadSummary, ExposurePath[]>();
  /** Services reachable from outside (by type, or as an Ingress/route backend), with routes. */
  readonly externalServices = new Map<Located, string[]>();
  /** The entry of each route of `externalServices`, by route text. */
  private readonly entries = new Map<string, ExposureEntry>();

  constructor(index: ClusterIndex) {
    // Workloads by namespace, then by each label pair, so a selector is matched against few.
    const byLabel = new Map<string, WorkloadSummary[]>();
    for (const w of index.workloads) {
      if (w.owned) continue;
      for (const [k, v] of Object.entries(w.podLabels)) {
        const key = `${w.namespace}\u0000${k}\u0000${v}`;
        const list = byLabel.get(key);
        if (list) list.push(w);
        else byLabel.set(key, [w]);
      }
    }
    const services = new Map<string, Located>();
    for (const svc of index.of('Service')) services.set(nsName(svc), svc);
    const markService = (svc: Located, route: string, entry: ExposureEntry): void => {
      const routes = this.externalServices.get(svc) ?? [];
      if (!routes.includes(route)) routes.push(route);
      this.externalServices.set(svc, routes);
      this.entries.set(route, entry);
    };
    for (const svc of index.of('Service')) {
      const why = serviceExternal(svc);
      if (why)
        markService(svc, `Service ${nsName(svc)} (${why})`, { via: why, ports: servicePorts(svc, why === 'NodePort') });
    }
    for (const ing of index.of('Ingress')) {
      const ports = arrAt(objAt(ing.obj, 'spec'), 'tls').length > 0 ? [443] : [80];
      for (const name of ingressBackends(ing)) {
        const svc = services.get(`${ing.namespace ?? 'default'}/${name}`);
        if (svc)
          markService(svc, `Ingress ${nsName(ing)} → Service ${nsName(svc)}`, {
            via: 'Ingress',
            name: nsName(ing),
            ports,
          });
      }
    }
    for (const kind of ROUTE_KINDS) {
      for (const route of index.of(kind)) {
        const parents = arrAt(objAt(route.obj, 'spec'), 'parentRefs')
          .map((p) => strAt(p, 'name'))
          .filter((n): n is string => n !== undefined);
        // A route attached to no Gateway carries no traffic.
        if (parents.length === 0) continue;
        for (const b of routeBackends(route)) {
          const svc = services.get(`${b.namespace}/${b.name}`);
          if (svc)
            markService(svc, `Gateway ${parents.join(', ')} → ${kind} ${nsName(route)} → Service ${nsName(svc)}`, {
              via: 'Gateway',
              name: parents.join(', '),
              ports: [],
            });
        }
      }
    }
    for (const [svc, routes] of this.externalServices) {
      const sel = selectorOf(svc);
      if (sel === undefined) continue;
      const [k0, v0] = Object.entries(sel)[0] as [string, string];
      for (const w of byLabel.get(`${svc.namespace ?? 'default'}\u0000${k0}\u0000${v0}`) ?? []) {
        if (!Object.entries(sel).every(([k, v]) => w.podLabels[k] === v)) continue;
        const list = this.exposed.get(w) ?? [];
        for (const route of routes)
          list.push({ route, service: svc, entry: this.entries.get(route) ?? { via: 'LoadBalancer', ports: [] } });
        this.exposed.set(w, list);
      }
    }
    for (const w of index.workloads) {
      if (w.owned) continue;
      const host: ExposurePath[] = [];
      if (w.hostNetwork)
        host.push({ route: 'hostNetwork on the node address', entry: { via: 'hostNetwork', ports: [] } });
      for (const hp of w.hostPorts)
        host.push({ route: `${hp.detail} on the node address`, entry: { via: 'hostPort', ports: [hp.port] } });
      if (host.length > 0) this.exposed.set(w, [...(this.exposed.get(w) ?? []), ...host]);
    }
  }
}

const GRAPHS = new WeakMap<ClusterIndex, ExposureGraph>();
export function exposureGraphOf(index: ClusterIndex): ExposureGraph {
  let g = GRAPHS.get(index);
  if (!g) GRAPHS.set(index, (g = new ExposureGraph(index)));
  return g;
}

function routesText(paths: readonly ExposurePath[]): string {
  return paths.map((p) => p.route).join('; ');
}

function externalWorkloads(index: ClusterIndex): AnalysisViolation[] {
  const out: AnalysisViolation[] = [];
  for (const [w, paths] of exposureGraphOf(index).exposed) {
    const direct = paths.find((p) => p.service === undefined);
    const path = direct ? (w.hostNetwork?.path ?? w.hostPorts[0]?.path ?? w.labelsPath) : w.labelsPath;
    out.push({
      at: w.at,
      violation: {
        path,
        message: `${w.at.kind} ${nsName(w.at)} is reachable from outside the cluster: ${routesText(paths)}`,
      },
    });
  }
  return out;
}

/** A detection on exposed workloads: the flag it looks for. */
function exposedWith(pick: (w: WorkloadSummary) => Flag | undefined): (index: ClusterIndex) => AnalysisViolation[] {
  return (index) => {
    const out: AnalysisViolation[] = [];
    for (const [w, paths] of exposureGraphOf(index).exposed) {
      const f = pick(w);
      if (f === undefined) continue;
      out.push({
        at: w.at,
        violation: { path: f.path, message: `${f.detail}, reachable from outside the cluster: ${routesText(paths)}` },
      });
    }
    return out;
  };
}

const OPEN_RANGES = new Set(['0.0.0.0/0', '::/0']);

/** PostgreSQL behind a LoadBalancer open to the whole internet (no or 0.0.0.0/0 source ranges). */
function postgresOpenRanges(index: ClusterIndex): AnalysisViolation[] {
  const graph = exposureGraphOf(index);
  const out: AnalysisViolation[] = [];
  const pgServices = new Set<Located>();
  for (const [w, paths] of graph.exposed)
    if (w.postgres) for (const p of paths) if (p.service) pgServices.add(p.service);
  for (const svc of index.of('Service')) {
    if (!pgServices.has(svc)) continue;
    const spec = objAt(svc.obj, 'spec');
    if (strAt(spec, 'type') !== 'LoadBalancer') continue;
    const ranges = arrAt(spec, 'loadBalancerSourceRanges');
    const open = ranges.findIndex((r) => typeof r === 'string' && OPEN_RANGES.has(r.trim()));
    const annotation = strAt(
      objAt(objAt(svc.obj, 'metadata'), 'annotations'),
      'service.beta.kubernetes.io/load-balancer-source-ranges',
    );
    if (ranges.length > 0 && open < 0) continue;
    if (
      ranges.length === 0 &&
      annotation !== undefined &&
      !annotation.split(',').some((r) => OPEN_RANGES.has(r.trim()))
    )
      continue;
    const violation: Violation =
      open >= 0
        ? {
            path: ['spec', 'loadBalancerSourceRanges', open],
            message: `Service ${nsName(svc)} exposes PostgreSQL on a load balancer open to ${String(ranges[open])}`,
          }
        : {
            path: ['spec', 'loadBalancerSourceRanges'],
            message: `Service ${nsName(svc)} exposes PostgreSQL on a load balancer with no source ranges (open to any address)`,
          };
    out.push({ at: svc, violation });
  }
  return out;
}

const NONE = (): Violation[] => [];
const EXPOSURE_DOC = 'https://learn.microsoft.com/azure/defender-for-cloud/alerts-containers';

export const EXPOSURE_CHECKS: readonly Check[] = [
  {
    id: 'exposure-external-workload',
    version: 1,
    severity: 'low',
    title: 'Workload reachable from outside the cluster',
    description:
      'The workload is selected by a LoadBalancer or NodePort Service (or one with externalIPs), by a Service behind an Ingress or a Gateway API route, or listens on the node address (hostNetwork, hostPort). An inventory of the attack surface: each path in should be intended.',
    remediation:
      'Use a ClusterIP Service unless the workload must be public; put public workloads behind an Ingress or Gateway with TLS and authentication; avoid hostNetwork and hostPort.',
    frameworks: { NSA: ['Network separation and hardening'], MITRE: ['T1133', 'T1190'] },
    check: NONE,
    analyze: externalWorkloads,
  },
  {
    id: 'exposure-kubernetes-dashboard',
    version: 1,
    severity: 'high',
    title: 'Kubernetes dashboard exposed',
    description: `The Kubernetes dashboard is reachable from outside the cluster; with a privileged service account it hands out cluster control (Defender: "Exposed Kubernetes dashboard detected"). ${EXPOSURE_DOC}`,
    remediation:
      'Serve the dashboard through a ClusterIP Service only and reach it with kubectl proxy or port-forward; never bind it to a privileged service account.',
    frameworks: { NSA: ['Network separation and hardening'], MITRE: ['T1133', 'T1190'] },
    check: NONE,
    analyze: exposedWith((w) => w.dashboard),
  },
  {
    id: 'exposure-kubeflow',
    version: 1,
    severity: 'high',
    title: 'Kubeflow dashboard exposed',
    description: `A Kubeflow dashboard is reachable from outside the cluster; it runs notebooks and pipelines, i.e. arbitrary code (Defender: "Exposed Kubeflow dashboard detected"). ${EXPOSURE_DOC}`,
    remediation:
      'Expose Kubeflow only behind authenticated ingress (Istio with OIDC), not on a LoadBalancer or NodePort.',
    frameworks: { NSA: ['Network separation and hardening'], MITRE: ['T1133', 'T1190'] },
    check: NONE,
    analyze: exposedWith((w) => w.kubeflow),
  },
  {
    id: 'exposure-redis-no-auth',
    version: 1,
    severity: 'high',
    title: 'Redis without authentication exposed',
    description: `Redis without a password (no requirepass, REDIS_PASSWORD or ACL file, or ALLOW_EMPTY_PASSWORD) is reachable from outside the cluster: anyone can read the data and, through CONFIG/MODULE, run code (Defender: "Exposed Redis service detected"). ${EXPOSURE_DOC}`,
    remediation:
      'Set a password (requirepass or REDIS_PASSWORD from a Secret) and keep Redis behind a ClusterIP Service.',
    frameworks: { NSA: ['Network separation and hardening'], MITRE: ['T1190', 'T1133'] },
    check: NONE,
    analyze: exposedWith((w) => w.redisNoAuth),
  },
  {
    id: 'exposure-postgres-trust',
    version: 1,
    severity: 'critical',
    title: 'PostgreSQL with trust authentication exposed',
    description: `PostgreSQL with trust authentication (POSTGRES_HOST_AUTH_METHOD=trust, or a trust line in its arguments) accepts any user without a password and is reachable from outside the cluster (Defender: "Exposed Postgres service with trust authentication configuration detected"). ${EXPOSURE_DOC}`,
    remediation:
      'Remove POSTGRES_HOST_AUTH_METHOD=trust (use scram-sha-256 with a password from a Secret) and keep the database behind a ClusterIP Service.',
    frameworks: { NSA: ['Network separation and hardening'], MITRE: ['T1190', 'T1078'] },
    check: NONE,
    analyze: exposedWith((w) => w.postgresTrust),
  },
  {
    id: 'exposure-postgres-open-source-ranges',
    version: 1,
    severity: 'high',
    title: 'PostgreSQL load balancer open to any address',
    description: `A LoadBalancer Service exposes PostgreSQL with no loadBalancerSourceRanges or with 0.0.0.0/0 (Defender: "Exposed Postgres service with risky configuration detected"). ${EXPOSURE_DOC}`,
    remediation:
      'Set spec.loadBalancerSourceRanges to the client networks that need the database, or use an internal load balancer.',
    frameworks: { NSA: ['Network separation and hardening'], MITRE: ['T1190', 'T1133'] },
    check: NONE,
    analyze: postgresOpenRanges,
  },
];
