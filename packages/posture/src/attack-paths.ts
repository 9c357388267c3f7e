/**
 * Attack paths: how an attacker outside the cluster gets from an exposed workload to something
 * worth taking. Each path is a chain of steps
 *
 *   entry (LoadBalancer, NodePort, Ingress, Gateway, hostPort, hostNetwork)
 *   → workload → [its image, when it has critical/high/KEV vulnerabilities]
 *   → a privilege it holds (privileged, host mounts, capabilities, host PID, its service
 *     account's RBAC rights when the token is mounted)
 *   → a target (the cluster, a node, the Secrets of the cluster or of a namespace, a namespace)
 *
 * ranked by a documented score and explained in one sentence. Built from the same index the
 * cross-object checks use (the exposure graph and the RBAC model), so it costs one pass over
 * the exposed workloads. Pure: the caller supplies vulnerability counts per image (from scan
 * reports, or from the server's storage), and the same input gives the same paths.
 *
 * Score (0–100) = 100 × exposure × exploitability × impact, rounded:
 * - exposure: LoadBalancer, Ingress, Gateway 1.0; NodePort, externalIPs 0.8; hostPort, hostNetwork 0.7.
 * - exploitability of the workload's worst image: KEV 1.0; critical 0.8; high 0.6; otherwise 0.3;
 *   +0.1 when a fix exists for a critical/high one (public patch, known exploit path); at least
 *   0.3 + 0.7 × EPSS when EPSS is given; 0.5 when nothing is known of the image's vulnerabilities.
 * - impact of the target: cluster 1.0; node 0.9; every Secret 0.8; a namespace 0.6; the Secrets
 *   of a namespace 0.5; code execution in the workload only 0.25 (a path of its own only when
 *   the image has critical, high or KEV vulnerabilities).
 * Severity: ≥ 70 critical, ≥ 40 high, ≥ 20 medium, else low. Order: score, then the chain of
 * step ids. Only the top `maxPaths` are written out (explanation, steps, id).
 */
import { stableId, type Severity } from '@palisade/core';
import type { Check, Violation } from './check.js';
import { ClusterIndex } from './analysis.js';
import { exposureGraphOf, type ExposureEntry, type ExposurePath, type WorkloadSummary } from './exposure.js';
import { formatSubject, type Grant } from './rbac.js';
import { grantRisks, rbacModelOf, type RbacRiskName } from './rbac-checks.js';
import { isObject, strAt, type JsonObject } from './path.js';
import type { PostureInput, PostureOptions, PostureReport } from './scan.js';
import { scanManifests } from './scan.js';
import { CHECKS } from './checks.js';

/** Vulnerability counts of one image: what ranking needs, not the findings themselves. */
export interface ImageVulnSummary {
  critical: number;
  high: number;
  medium?: number;
  low?: number;
  /** Vulnerabilities in CISA's Known Exploited Vulnerabilities catalogue. */
  kev: number;
  /** Vulnerabilities with a fixed version available. */
  fixable: number;
  /** Highest EPSS probability (0–1) among them, when known. */
  epss?: number;
}

/** Vulnerability counts for an image reference (as the pod names it) and its digest, when known. */
export type ImageVulnLookup = (imageRef: string, digest?: string) => ImageVulnSummary | undefined;

export interface AttackPathOptions {
  imageVulnerabilities?: ImageVulnLookup;
  /** Keep the highest-ranked N paths (default 100). */
  maxPaths?: number;
}

export type AttackStepKind = 'entry' | 'workload' | 'image' | 'privilege' | 'target';

export type AttackTargetKind = 'cluster' | 'node' | 'secrets' | 'namespace' | 'workload';

/** One node of a path, and the edge from the previous node into it. */
export interface AttackStep {
  kind: AttackStepKind;
  /** Stable id of the node (the same node in two paths has the same id). */
  id: string;
  label: string;
  /** How the attacker moves from the previous step to this one; absent on the entry. */
  edge?: { relation: string; mitre: string[] };
  /** The image's vulnerability counts (image steps). */
  vulnerabilities?: ImageVulnSummary;
}

export interface AttackPath {
  /** stableId of the chain of step ids. */
  id: string;
  /** 1 = highest score. */
  rank: number;
  score: number;
  severity: Severity;
  /** The path in one sentence. */
  explanation: string;
  factors: { exposure: number; exploitability: number; impact: number };
  /** The exposed workload the path goes through. */
  workload: { namespace?: string; apiVersion: string; kind: string; name: string; file?: string };
  target: { kind: AttackTargetKind; name: string };
  steps: AttackStep[];
  /** MITRE ATT&CK techniques of the edges, sorted. */
  mitre: string[];
}

// ---------------------------------------------------------------- entries

const EXPOSURE_WEIGHT: Record<ExposureEntry['via'], number> = {
  LoadBalancer: 1,
  Ingress: 1,
  Gateway: 1,
  NodePort: 0.8,
  externalIPs: 0.8,
  hostPort: 0.7,
  hostNetwork: 0.7,
};

function entryLabel(e: ExposureEntry): string {
  const ports = e.ports.length > 0 ? ` :${e.ports.join(',')}` : '';
  switch (e.via) {
    case 'Ingress':
      return `Ingress ${e.name ?? ''}${ports}`;
    case 'Gateway':
      return `Gateway ${e.name ?? ''}`;
    case 'hostPort':
      return `hostPort ${e.ports.join(',')}`;
    case 'hostNetwork':
      return 'hostNetwork';
    default:
      return `${e.via}${ports}`;
  }
}

/** The most exposed way in; the first such on a tie (graph order is input order). */
function bestEntry(paths: readonly ExposurePath[]): ExposurePath | undefined {
  let best: ExposurePath | undefined;
  for (const p of paths) if (!best || EXPOSURE_WEIGHT[p.entry.via] > EXPOSURE_WEIGHT[best.entry.via]) best = p;
  return best;
}

// ---------------------------------------------------------------- images

interface ImageChoice {
  image: string;
  container: string;
  vulns?: ImageVulnSummary;
}

function digestOf(image: string): string | undefined {
  const at = image.indexOf('@');
  return at >= 0 ? image.slice(at + 1) : undefined;
}

/** Worst first: KEV, then critical, high, fixable, EPSS. */
function vulnOrder(a: ImageVulnSummary | undefined, b: ImageVulnSummary | undefined): number {
  const key = (v: ImageVulnSummary | undefined): number[] =>
    v ? [v.kev, v.critical, v.high, v.fixable, v.epss ?? 0] : [-1, -1, -1, -1, -1];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) if ((ka[i] ?? 0) !== (kb[i] ?? 0)) return (kb[i] ?? 0) - (ka[i] ?? 0);
  return 0;
}

function isVulnerable(v: ImageVulnSummary | undefined): v is ImageVulnSummary {
  return v !== undefined && (v.kev > 0 || v.critical > 0 || v.high > 0);
}

function exploitability(v: ImageVulnSummary | undefined, known: boolean): number {
  if (!known || v === undefined) return 0.5;
  let e = v.kev > 0 ? 1 : v.critical > 0 ? 0.8 : v.high > 0 ? 0.6 : 0.3;
  if (v.fixable > 0 && (v.critical > 0 || v.high > 0)) e += 0.1;
  if (v.epss !== undefined) e = Math.max(e, 0.3 + 0.7 * v.epss);
  // Two decimals: the factors are reported, and 0.8 + 0.1 must read 0.9.
  return Math.round(Math.min(1, e) * 100) / 100;
}

function vulnText(v: ImageVulnSummary): string {
  const kev = v.kev > 0 ? ` (${v.kev} in KEV)` : '';
  const count = (n: number, sev: string): string => `${n} ${sev} vulnerabilit${n === 1 ? 'y' : 'ies'}`;
  if (v.critical > 0) return count(v.critical, 'critical') + kev;
  if (v.high > 0) return count(v.high, 'high') + kev;
  return `${v.kev} vulnerabilit${v.kev === 1 ? 'y' : 'ies'} in KEV`;
}

// ---------------------------------------------------------------- privileges and targets

interface Target {
  kind: AttackTargetKind;
  /** `cluster`, a node name or `every node`, `*` or a namespace. */
  name: string;
  impact: number;
  phrase: string;
  mitre: string[];
}

interface Privilege {
  id: string;
  label: string;
  /** Words after the subject: "runs container main privileged". */
  phrase: string;
  mitre: string[];
  target: Target;
  /** Lower is stronger: the privilege shown when several reach one target. */
  strength: number;
}

function nodeTarget(w: WorkloadSummary): Target {
  const every = w.at.kind === 'DaemonSet';
  const node = w.pod.nodeName;
  const name = every ? 'every node' : (node ?? 'its node');
  const phrase = every
    ? 'which gives control of every node'
    : node !== undefined
      ? `which gives control of node ${node}`
      : 'which gives control of the node it runs on';
  return { kind: 'node', name, impact: 0.9, phrase, mitre: ['T1611'] };
}

const CLUSTER: Target = {
  kind: 'cluster',
  name: 'cluster',
  impact: 1,
  phrase: 'which gives control of the cluster',
  mitre: ['T1078'],
};

function namespaceTarget(ns: string): Target {
  return {
    kind: 'namespace',
    name: ns,
    impact: 0.6,
    phrase: `which gives control of namespace ${ns} (its pods, service accounts and Secrets)`,
    mitre: ['T1609', 'T1610'],
  };
}

function secretsTarget(ns: string | undefined): Target {
  return ns === undefined
    ? {
        kind: 'secrets',
        name: '*',
        impact: 0.8,
        phrase: 'which exposes every Secret in the cluster',
        mitre: ['T1552.007'],
      }
    : {
        kind: 'secrets',
        name: ns,
        impact: 0.5,
        phrase: `which exposes the Secrets of namespace ${ns}`,
        mitre: ['T1552.007'],
      };
}

const FOOTHOLD: Target = {
  kind: 'workload',
  name: 'workload',
  impact: 0.25,
  phrase: 'which gives an attacker code execution in the workload',
  mitre: ['T1059'],
};

/** Container runtime sockets: whoever holds one starts privileged containers on the node. */
const RUNTIME_SOCKETS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/(var\/)?run\/docker\.sock$/, 'docker socket'],
  [/^\/(var\/)?run\/containerd\/containerd\.sock$/, 'containerd socket'],
  [/^\/(var\/)?run\/crio\/crio\.sock$/, 'CRI-O socket'],
  [/^\/(var\/)?run\/(docker|containerd|crio)\/?$/, 'container runtime socket directory'],
];

/** Host directories whose contents (credentials, kubelet state, devices, binaries) give the node away. */
const SENSITIVE_HOST_DIRS = [
  '/etc',
  '/root',
  '/home',
  '/var/lib/kubelet',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/var/log',
  '/proc',
  '/sys',
  '/dev',
  '/boot',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/run',
  '/var/run',
];

/** Capabilities that let a container break out to its node. */
const ESCAPE_CAPABILITIES = new Set(['ALL', 'SYS_ADMIN', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'BPF']);

function normalizeHostPath(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function nodePrivileges(w: WorkloadSummary): Privilege[] {
  const node = nodeTarget(w);
  const out: Privilege[] = [];
  const f = w.pod;
  for (const c of f.privileged)
    out.push({
      id: `privileged:${c}`,
      label: `privileged container ${c}`,
      phrase: `runs container ${c} privileged`,
      mitre: ['T1611'],
      target: node,
      strength: 0,
    });
  for (const v of f.hostPaths) {
    const p = normalizeHostPath(v.path);
    const socket = RUNTIME_SOCKETS.find(([re]) => re.test(p));
    if (socket)
      out.push({
        id: `hostPath:${p}`,
        label: `host ${socket[1]} ${p}`,
        phrase: `mounts the host's ${socket[1]}`,
        mitre: ['T1610', 'T1611'],
        target: node,
        strength: 1,
      });
    else if (p === '/')
      out.push({
        id: 'hostPath:/',
        label: 'host root filesystem',
        phrase: "mounts the host's root filesystem",
        mitre: ['T1611'],
        target: node,
        strength: 2,
      });
    else if (SENSITIVE_HOST_DIRS.some((d) => p === d || p.startsWith(`${d}/`)))
      out.push({
        id: `hostPath:${p}`,
        label: `host path ${p}`,
        phrase: `mounts host path ${p}`,
        mitre: ['T1611'],
        target: node,
        strength: 3,
      });
  }
  for (const { container, cap } of f.capabilities) {
    if (!ESCAPE_CAPABILITIES.has(cap) && !(cap === 'SYS_PTRACE' && f.hostPID)) continue;
    out.push({
      id: `capability:${container}:${cap}`,
      label: `capability ${cap}`,
      phrase: `adds capability ${cap} to container ${container}`,
      mitre: ['T1611'],
      target: node,
      strength: 4,
    });
  }
  if (f.hostPID)
    out.push({
      id: 'hostPID',
      label: 'host PID namespace',
      phrase: "shares the host's PID namespace",
      mitre: ['T1611'],
      target: node,
      strength: 5,
    });
  return out;
}

/** What a risky RBAC permission leads to, by its scope. */
function rbacTarget(risk: RbacRiskName, namespace: string | undefined, w: WorkloadSummary): Target | undefined {
  switch (risk) {
    case 'clusterAdmin':
    case 'escalate':
    case 'createPods':
    case 'execAttach':
    case 'tokenCreate':
      return namespace === undefined ? CLUSTER : namespaceTarget(namespace);
    case 'webhookConfigurations':
    case 'csrApproval':
      return CLUSTER;
    case 'nodesProxy':
    case 'persistentVolumes':
      return { ...nodeTarget(w), name: 'every node', phrase: 'which gives control of every node' };
    case 'secrets':
      return secretsTarget(namespace);
    default:
      return undefined;
  }
}

/** Risks shown first when one grant allows several leading to the same target. */
const RISK_ORDER: readonly RbacRiskName[] = [
  'clusterAdmin',
  'escalate',
  'nodesProxy',
  'createPods',
  'execAttach',
  'tokenCreate',
  'webhookConfigurations',
  'csrApproval',
  'persistentVolumes',
  'secrets',
];

interface SaRight {
  risk: RbacRiskName;
  what: string;
  grant: Grant;
}

/** Risky rights per RBAC subject (`ServiceAccount ns/name`, `Group …`), from the model's grants. */
function rightsBySubject(index: ClusterIndex): Map<string, SaRight[]> {
  const out = new Map<string, SaRight[]>();
  for (const g of rbacModelOf(index).grants()) {
    const risks = grantRisks(g);
    if (risks.length === 0) continue;
    const key = formatSubject(g.subject);
    const list = out.get(key) ?? [];
    for (const r of risks) list.push({ ...r, grant: g });
    out.set(key, list);
  }
  return out;
}

function bindingName(g: Grant): string {
  const b = g.binding;
  return b.kind === 'RoleBinding'
    ? `RoleBinding ${b.namespace ?? 'default'}/${b.name}`
    : `ClusterRoleBinding ${b.name}`;
}

function rbacPrivileges(
  w: WorkloadSummary,
  rights: Map<string, SaRight[]>,
  automountBySa: Map<string, boolean>,
): Privilege[] {
  const sa = `${w.namespace}/${w.pod.serviceAccount}`;
  const mounted = w.pod.automountToken ?? automountBySa.get(sa) ?? true;
  if (!mounted) return [];
  // A service account also holds what its groups are granted.
  const subjects = [
    `ServiceAccount ${sa}`,
    'Group system:serviceaccounts',
    `Group system:serviceaccounts:${w.namespace}`,
    'Group system:authenticated',
  ];
  const out: Privilege[] = [];
  for (const subject of subjects) {
    for (const r of rights.get(subject) ?? []) {
      const target = rbacTarget(r.risk, r.grant.namespace, w);
      if (target === undefined) continue;
      const scope = r.grant.namespace === undefined ? 'cluster-wide' : `in namespace ${r.grant.namespace}`;
      const group = subject.startsWith('Group') ? `${subject.toLowerCase()} → ` : '';
      out.push({
        id: `rbac:${sa}:${r.risk}:${r.grant.namespace ?? '*'}`,
        label: `service account ${sa}: ${r.what} ${scope}`,
        phrase: `mounts the token of service account ${sa} (${r.what} ${scope} via ${group}${bindingName(r.grant)})`,
        mitre: ['T1528'],
        target,
        strength: 10 + RISK_ORDER.indexOf(r.risk),
      });
    }
  }
  return out;
}

function targetKey(t: Target): string {
  return `${t.kind}:${t.name}`;
}

/**
 * Drop targets another reached target of the same workload includes: control of the cluster
 * includes every namespace and Secret, and the nodes its RBAC rights reach (a node reached by
 * escaping the container stays: that is a different fix).
 */
function dominated(p: Privilege, reached: ReadonlySet<string>): boolean {
  const t = p.target;
  if (t.kind === 'node') return p.id.startsWith('rbac:') && reached.has('cluster:cluster');
  if (t.kind === 'namespace' || (t.kind === 'secrets' && t.name === '*')) return reached.has('cluster:cluster');
  if (t.kind === 'secrets')
    return reached.has('cluster:cluster') || reached.has('secrets:*') || reached.has(`namespace:${t.name}`);
  return false;
}

// ---------------------------------------------------------------- paths

function severityOf(score: number): Severity {
  if (score >= 70) return 'critical';
  if (score >= 40) return 'high';
  if (score >= 20) return 'medium';
  return 'low';
}

function workloadName(w: WorkloadSummary): string {
  return `${w.at.kind} ${w.namespace}/${w.at.name}`;
}

function subjectPhrase(w: WorkloadSummary, entry: ExposureEntry): string {
  const adjective = EXPOSURE_WEIGHT[entry.via] === 1 ? 'Internet-facing' : 'Externally reachable';
  return `${adjective} ${workloadName(w)} (${entryLabel(entry)})`;
}

/** What a path is made of, before it is written out (only the top `maxPaths` are). */
interface Candidate {
  w: WorkloadSummary;
  entry: ExposurePath;
  image: ImageChoice | undefined;
  /** The image, when it has critical, high or KEV vulnerabilities: a step of its own. */
  vulnerable: ImageChoice | undefined;
  known: boolean;
  privilege: Privilege | undefined;
  target: Target;
  score: number;
  /** The step ids, newline-joined: the tie-break of the ranking, and what the id hashes. */
  chain: string;
}

function candidate(
  w: WorkloadSummary,
  entry: ExposurePath,
  image: ImageChoice | undefined,
  known: boolean,
  privilege: Privilege | undefined,
  target: Target,
): Candidate {
  const vulnerable = image !== undefined && isVulnerable(image.vulns) ? image : undefined;
  const ids = [`entry:${entry.route}`, `workload:${workloadName(w)}`];
  if (vulnerable) ids.push(`image:${vulnerable.image}`);
  if (privilege) ids.push(`privilege:${workloadName(w)}:${privilege.id}`);
  ids.push(`target:${targetKey(target)}`);
  const score = Math.round(
    100 * EXPOSURE_WEIGHT[entry.entry.via] * exploitability(image?.vulns, known) * target.impact,
  );
  return { w, entry, image, vulnerable, known, privilege, target, score, chain: ids.join('\n') };
}

function buildPath(c: Candidate, rank: number): AttackPath {
  const { w, entry, image, vulnerable, known, privilege, target, score } = c;
  const ids = c.chain.split('\n');
  const at = (i: number): string => ids[i] ?? '';
  const steps: AttackStep[] = [
    { kind: 'entry', id: at(0), label: entryLabel(entry.entry) },
    {
      kind: 'workload',
      id: at(1),
      label: workloadName(w),
      edge: { relation: 'routes to', mitre: vulnerable ? [] : ['T1190'] },
    },
  ];
  if (vulnerable)
    steps.push({
      kind: 'image',
      id: at(steps.length),
      label: vulnerable.image,
      edge: { relation: 'runs', mitre: ['T1190'] },
      ...(vulnerable.vulns ? { vulnerabilities: vulnerable.vulns } : {}),
    });
  if (privilege)
    steps.push({
      kind: 'privilege',
      id: at(steps.length),
      label: privilege.label,
      edge: { relation: 'holds', mitre: privilege.mitre },
    });
  steps.push({
    kind: 'target',
    id: at(steps.length),
    label: target.kind === 'workload' ? `code execution in ${workloadName(w)}` : `${target.kind} ${target.name}`,
    edge: { relation: 'gives', mitre: target.mitre },
  });
  const exposure = EXPOSURE_WEIGHT[entry.entry.via];
  const exploit = exploitability(image?.vulns, known);
  const parts: string[] = [];
  if (vulnerable?.vulns) parts.push(`runs image ${vulnerable.image} with ${vulnText(vulnerable.vulns)}`);
  if (privilege) parts.push(privilege.phrase);
  const explanation = `${subjectPhrase(w, entry.entry)} ${parts.join(' and ')}, ${target.phrase}.`;
  const mitre = [...new Set(steps.flatMap((s) => s.edge?.mitre ?? []))].sort();
  return {
    id: stableId('attack-path', ...ids),
    rank,
    score,
    severity: severityOf(score),
    explanation,
    factors: { exposure, exploitability: exploit, impact: target.impact },
    workload: {
      ...(w.at.namespace !== undefined ? { namespace: w.at.namespace } : {}),
      apiVersion: w.at.apiVersion,
      kind: w.at.kind,
      name: w.at.name,
      file: w.at.file,
    },
    target: { kind: target.kind, name: target.name },
    steps,
    mitre,
  };
}

/** The worst image of a workload, by its vulnerabilities (the first container's when none are known). */
function worstImage(
  w: WorkloadSummary,
  lookup: ImageVulnLookup | undefined,
  cache: Map<string, ImageVulnSummary | undefined>,
): ImageChoice | undefined {
  let best: ImageChoice | undefined;
  for (const { container, image } of w.pod.images) {
    let vulns: ImageVulnSummary | undefined;
    if (lookup) {
      if (cache.has(image)) vulns = cache.get(image);
      else {
        vulns = lookup(image, digestOf(image));
        cache.set(image, vulns);
      }
    }
    const choice: ImageChoice = { image, container, ...(vulns ? { vulns } : {}) };
    if (!best || vulnOrder(vulns, best.vulns) < 0) best = choice;
  }
  return best;
}

/** Every attack path of the index, ranked; at most `maxPaths` (default 100). */
export function buildAttackPaths(index: ClusterIndex, options: AttackPathOptions = {}): AttackPath[] {
  const lookup = options.imageVulnerabilities;
  const graph = exposureGraphOf(index);
  if (graph.exposed.size === 0) return [];
  const rights = rightsBySubject(index);
  const automountBySa = new Map<string, boolean>();
  for (const sa of index.of('ServiceAccount')) {
    const v = sa.obj.automountServiceAccountToken;
    if (typeof v === 'boolean') automountBySa.set(`${sa.namespace ?? 'default'}/${sa.name}`, v);
  }
  const cache = new Map<string, ImageVulnSummary | undefined>();
  const candidates: Candidate[] = [];
  for (const [w, routes] of graph.exposed) {
    const entry = bestEntry(routes);
    if (entry === undefined) continue;
    const image = worstImage(w, lookup, cache);
    const known = lookup !== undefined && image?.vulns !== undefined;
    // The strongest privilege per target.
    const byTarget = new Map<string, Privilege>();
    for (const p of [...nodePrivileges(w), ...rbacPrivileges(w, rights, automountBySa)]) {
      const key = targetKey(p.target);
      const seen = byTarget.get(key);
      if (!seen || p.strength < seen.strength) byTarget.set(key, p);
    }
    const reached = new Set(byTarget.keys());
    for (const [, p] of byTarget) {
      if (!dominated(p, reached)) candidates.push(candidate(w, entry, image, known, p, p.target));
    }
    if (reached.size === 0 && isVulnerable(image?.vulns))
      candidates.push(candidate(w, entry, image, known, undefined, FOOTHOLD));
  }
  // Highest score first, then by the chain of step ids: the same input gives the same order.
  candidates.sort((a, b) => b.score - a.score || (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  const max = Math.max(0, options.maxPaths ?? 100);
  return candidates.slice(0, max).map((c, i) => buildPath(c, i + 1));
}

/**
 * Attack paths of plain objects (a cluster snapshot, stored inventory): the index is built
 * here, with no file positions.
 */
export function attackPathsOfObjects(objects: Iterable<JsonObject>, options: AttackPathOptions = {}): AttackPath[] {
  const index = new ClusterIndex();
  let document = 0;
  for (const obj of objects) {
    const kind = strAt(obj, 'kind');
    const apiVersion = strAt(obj, 'apiVersion');
    if (kind === undefined || apiVersion === undefined || !isObject(obj)) continue;
    index.add({ obj, document: document++, locate: () => undefined }, '(objects)', kind, apiVersion);
  }
  return buildAttackPaths(index, options);
}

// ---------------------------------------------------------------- with a posture scan

/** A posture report with its attack paths (absent when the cross-object analysis did not run). */
export type PostureReportWithAttackPaths = PostureReport & { attackPaths?: AttackPath[] };

/** The id under which the attack path analysis rides along a scan; never a finding. */
export const ATTACK_PATHS_ID = 'attack-paths';

/**
 * An analysis-only check that computes the attack paths of a scan over the index the engine
 * builds. Made per scan (it holds that scan's result), never shared.
 */
export function attackPathCollector(options: AttackPathOptions = {}): {
  check: Check;
  paths(): AttackPath[] | undefined;
} {
  let result: AttackPath[] | undefined;
  const none = (): Violation[] => [];
  const check: Check = {
    id: ATTACK_PATHS_ID,
    version: 1,
    title: 'Attack paths',
    severity: 'unknown',
    description: 'Ranks the paths from exposed workloads to nodes, Secrets and cluster control.',
    remediation: 'Break each path at its privilege step, or remove the exposure.',
    frameworks: {},
    check: none,
    analyze: (index) => {
      result = buildAttackPaths(index, options);
      return [];
    },
  };
  return { check, paths: () => result };
}

/**
 * scanManifests plus attack paths: the same scan, with the paths computed over its index.
 * Under `pssOnly` no cross-object analysis runs and the report has no attackPaths.
 */
export function scanWithAttackPaths(
  inputs: Iterable<PostureInput>,
  options: PostureOptions & { attackPaths?: AttackPathOptions } = {},
): PostureReportWithAttackPaths {
  const { attackPaths, ...scanOptions } = options;
  const collector = attackPathCollector(attackPaths);
  const report = scanManifests(inputs, {
    ...scanOptions,
    checks: [...(scanOptions.checks ?? CHECKS), collector.check],
  });
  const paths = collector.paths();
  const out: PostureReportWithAttackPaths = { ...report, checks: report.checks.filter((id) => id !== ATTACK_PATHS_ID) };
  if (paths !== undefined) out.attackPaths = paths;
  return out;
}

/** One attack path as a table line. */
export function attackPathLine(p: AttackPath): string {
  return `#${p.rank} ${p.severity.toUpperCase()} ${p.score}  ${p.explanation}`;
}
