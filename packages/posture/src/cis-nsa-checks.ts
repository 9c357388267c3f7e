/**
 * The rest of CIS Kubernetes Benchmark section 5 and the NSA/CISA Kubernetes Hardening Guide
 * that can be judged from API objects, beyond what the PSS, workload, RBAC and exposure checks
 * already cover: secrets handed to containers as environment variables (CIS 5.4.1), containers
 * with no security context (5.7.3), Ingresses without TLS, legacy long-lived service account
 * tokens, and the namespace-level controls — admission policy (5.2.1), NetworkPolicies (5.3.2)
 * and default-deny, LimitRanges and ResourceQuotas — which look across objects.
 *
 * The namespace-level checks judge the namespaces whose Namespace object is in the input (a
 * cluster snapshot, a `kubectl get -A` dump, or manifests that create the namespace), once per
 * namespace, on that object; NetworkPolicy, LimitRange and ResourceQuota only where workloads
 * run. An application's manifests alone, without the Namespace, say nothing of what the
 * platform team put in the namespace, so they are not judged (a CI gate on them stays quiet).
 */
import type { AnalysisViolation, Check, Violation } from './check.js';
import type { ClusterIndex, Located } from './analysis.js';
import { onPod } from './pss-helpers.js';
import { arrAt, isObject, objAt, strAt, type JsonObject } from './path.js';
import { labelsOf, selectorMatches } from './rbac.js';
import { containersOf } from './workload.js';

// ---------------------------------------------------------------- per-object checks

/** CIS 5.4.1: secrets read from the environment leak through /proc, crash dumps and child processes. */
function secretEnvReferences(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    containersOf(pod).flatMap((c) => {
      const out: Violation[] = [];
      arrAt(c.c, 'env').forEach((e, i) => {
        const ref = objAt(objAt(e, 'valueFrom'), 'secretKeyRef');
        if (ref === undefined) return;
        out.push({
          path: [...c.path, 'env', i, 'valueFrom', 'secretKeyRef'],
          message: `container "${c.name}" reads Secret ${strAt(ref, 'name') ?? '(unnamed)'} key ${strAt(ref, 'key') ?? '?'} into environment variable ${strAt(e, 'name') ?? '?'}`,
        });
      });
      arrAt(c.c, 'envFrom').forEach((e, i) => {
        const ref = objAt(e, 'secretRef');
        if (ref === undefined) return;
        out.push({
          path: [...c.path, 'envFrom', i, 'secretRef'],
          message: `container "${c.name}" loads every key of Secret ${strAt(ref, 'name') ?? '(unnamed)'} into its environment`,
        });
      });
      return out;
    }),
  );
}

function hasSettings(o: JsonObject | undefined): boolean {
  return o !== undefined && Object.keys(o).length > 0;
}

/** CIS 5.7.3: a container with no security context, in a pod with none, runs with every runtime default. */
function missingSecurityContext(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) => {
    if (hasSettings(objAt(pod.spec, 'securityContext'))) return [];
    return containersOf(pod).flatMap((c) =>
      hasSettings(objAt(c.c, 'securityContext'))
        ? []
        : [
            {
              path: [...c.path, 'securityContext'],
              message: `container "${c.name}" has no securityContext, and neither has the pod: it runs with the runtime's defaults`,
            },
          ],
    );
  });
}

function ingressWithoutTls(obj: JsonObject): Violation[] {
  if (strAt(obj, 'kind') !== 'Ingress') return [];
  const spec = objAt(obj, 'spec');
  if (arrAt(spec, 'tls').length > 0) return [];
  const hosts = arrAt(spec, 'rules')
    .map((r) => strAt(r, 'host'))
    .filter((h): h is string => h !== undefined);
  const what = hosts.length > 0 ? ` for ${hosts.join(', ')}` : '';
  return [{ path: ['spec', 'tls'], message: `the Ingress serves plain HTTP${what}: it has no tls section` }];
}

function legacyServiceAccountToken(obj: JsonObject): Violation[] {
  if (strAt(obj, 'kind') !== 'Secret' || strAt(obj, 'type') !== 'kubernetes.io/service-account-token') return [];
  const sa = strAt(objAt(objAt(obj, 'metadata'), 'annotations'), 'kubernetes.io/service-account.name') ?? '(unnamed)';
  return [
    {
      path: ['type'],
      message: `the Secret holds a long-lived token of service account ${sa}, which never expires and is not bound to a pod`,
    },
  ];
}

// ---------------------------------------------------------------- namespaces

/** What the namespace-level checks know of one namespace. */
interface NamespaceFacts {
  name: string;
  /** The Namespace object. */
  object: Located;
  /** Workloads in it (controllers' pods are counted through their controller). */
  workloads: Located[];
}

const NAMESPACE_FACTS = new WeakMap<ClusterIndex, NamespaceFacts[]>();

/** The Namespace objects of the input with their workloads, sorted by name. */
function namespacesOf(index: ClusterIndex): NamespaceFacts[] {
  const cached = NAMESPACE_FACTS.get(index);
  if (cached) return cached;
  const byName = new Map<string, NamespaceFacts>();
  for (const at of index.of('Namespace'))
    if (!byName.has(at.name)) byName.set(at.name, { name: at.name, object: at, workloads: [] });
  for (const w of index.workloads) if (!w.owned) byName.get(w.namespace)?.workloads.push(w.at);
  const out = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  NAMESPACE_FACTS.set(index, out);
  return out;
}

function objectsByNamespace(index: ClusterIndex, kind: string): Map<string, Located[]> {
  const out = new Map<string, Located[]>();
  for (const at of index.of(kind)) {
    const ns = at.namespace ?? 'default';
    const list = out.get(ns);
    if (list) list.push(at);
    else out.set(ns, [at]);
  }
  return out;
}

function reportOn(ns: NamespaceFacts, message: string): AnalysisViolation {
  return { at: ns.object, violation: { path: ['metadata', 'name'], message } };
}

function workloadCount(ns: NamespaceFacts): string {
  const n = ns.workloads.length;
  return `${n} workload${n === 1 ? '' : 's'}`;
}

/** A namespace-level "has none of KIND" check over the namespaces that run workloads. */
function namespaceLacks(kind: string, what: string): (index: ClusterIndex) => AnalysisViolation[] {
  return (index) => {
    const present = objectsByNamespace(index, kind);
    const out: AnalysisViolation[] = [];
    for (const ns of namespacesOf(index)) {
      if (ns.workloads.length === 0 || present.has(ns.name)) continue;
      out.push(reportOn(ns, `namespace ${ns.name} runs ${workloadCount(ns)} and has no ${kind}: ${what}`));
    }
    return out;
  };
}

/** An empty pod selector: the policy applies to every pod of its namespace. */
function selectsAllPods(policy: JsonObject | undefined): boolean {
  const sel = objAt(objAt(policy, 'spec'), 'podSelector');
  if (sel === undefined) return objAt(policy, 'spec') !== undefined;
  return !hasSettings(objAt(sel, 'matchLabels')) && arrAt(sel, 'matchExpressions').length === 0;
}

/** Does the policy deny every connection in this direction for every pod of its namespace? */
function deniesAll(policy: JsonObject, direction: 'Ingress' | 'Egress'): boolean {
  const spec = objAt(policy, 'spec');
  if (!selectsAllPods(policy)) return false;
  const types = arrAt(spec, 'policyTypes').filter((t): t is string => typeof t === 'string');
  const rules = arrAt(spec, direction === 'Ingress' ? 'ingress' : 'egress');
  // Without policyTypes, Ingress is always a type and Egress only when egress rules exist.
  const applies = types.length > 0 ? types.includes(direction) : direction === 'Ingress';
  return applies && rules.length === 0;
}

function defaultDenyMissing(index: ClusterIndex): AnalysisViolation[] {
  const present = objectsByNamespace(index, 'NetworkPolicy');
  const out: AnalysisViolation[] = [];
  for (const ns of namespacesOf(index)) {
    const policies = present.get(ns.name);
    // A namespace with no policy at all is namespace-network-policy-missing's finding.
    if (ns.workloads.length === 0 || policies === undefined) continue;
    const missing = (['Ingress', 'Egress'] as const).filter((d) => !policies.some((p) => deniesAll(p.obj, d)));
    if (missing.length === 0) continue;
    out.push(
      reportOn(
        ns,
        `namespace ${ns.name} has NetworkPolicies but none denies all ${missing.join(' and ').toLowerCase()} traffic by default: pods no policy selects stay open`,
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------- admission policy

/** Namespaces that host the control plane's own components, which need privileges. */
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const POD_RESOURCES = new Set(['pods', '*', '*/*']);

/** A Namespace's labels as a selector sees them, the automatic name label included. */
function namespaceLabels(ns: Located): Record<string, string> {
  return { ...labelsOf(ns.obj), 'kubernetes.io/metadata.name': ns.name };
}

/** An absent or empty selector matches everything (the API server's rule for namespaceSelector). */
function namespaceSelected(selector: unknown, labels: Record<string, string>): boolean {
  if (
    !isObject(selector) ||
    (!hasSettings(objAt(selector, 'matchLabels')) && arrAt(selector, 'matchExpressions').length === 0)
  )
    return true;
  return selectorMatches(selector, labels);
}

/** Do these admission rules cover creating pods? */
function rulesCoverPods(rules: readonly unknown[]): boolean {
  return rules.some((r) => {
    const groups = arrAt(r, 'apiGroups');
    const ops = arrAt(r, 'operations');
    const resources = arrAt(r, 'resources');
    return (
      (groups.includes('') || groups.includes('*')) &&
      (ops.includes('CREATE') || ops.includes('*')) &&
      resources.some((x) => typeof x === 'string' && POD_RESOURCES.has(x))
    );
  });
}

/** What enforces policy on pods of a namespace, or undefined when nothing does. */
function policyEnforcer(index: ClusterIndex, ns: Located): string | undefined {
  const labels = namespaceLabels(ns);
  const level = labels[ENFORCE_LABEL];
  if (level === 'baseline' || level === 'restricted') return `Pod Security admission (${level})`;
  for (const hook of index.of('ValidatingWebhookConfiguration')) {
    for (const w of arrAt(hook.obj, 'webhooks')) {
      if (rulesCoverPods(arrAt(w, 'rules')) && namespaceSelected(objAt(w, 'namespaceSelector'), labels))
        return `ValidatingWebhookConfiguration ${hook.name}`;
    }
  }
  const policies = new Map<string, Located>();
  for (const p of index.of('ValidatingAdmissionPolicy'))
    if (rulesCoverPods(arrAt(objAt(objAt(p.obj, 'spec'), 'matchConstraints'), 'resourceRules')))
      policies.set(p.name, p);
  for (const b of index.of('ValidatingAdmissionPolicyBinding')) {
    const spec = objAt(b.obj, 'spec');
    const policy = policies.get(strAt(spec, 'policyName') ?? '');
    if (policy === undefined || !arrAt(spec, 'validationActions').includes('Deny')) continue;
    if (namespaceSelected(objAt(objAt(spec, 'matchResources'), 'namespaceSelector'), labels))
      return `ValidatingAdmissionPolicy ${policy.name}`;
  }
  return undefined;
}

function admissionPolicyMissing(index: ClusterIndex): AnalysisViolation[] {
  const out: AnalysisViolation[] = [];
  for (const ns of index.of('Namespace')) {
    if (SYSTEM_NAMESPACES.has(ns.name) || policyEnforcer(index, ns) !== undefined) continue;
    const level = labelsOf(ns.obj)[ENFORCE_LABEL];
    out.push({
      at: ns,
      violation: {
        path: ['metadata', 'labels', ENFORCE_LABEL],
        message:
          `namespace ${ns.name} admits any pod: ` +
          (level !== undefined
            ? `Pod Security admission enforces "${level}"`
            : 'no Pod Security admission level is enforced') +
          ' and no validating webhook or ValidatingAdmissionPolicy in the input covers its pods',
      },
    });
  }
  return out;
}

// ---------------------------------------------------------------- absence and the input

/**
 * Checks that report an absence (no NetworkPolicy, no LimitRange, no admission policy) and the
 * kinds whose objects would clear them. A scan whose source cannot hold one of those kinds (a
 * live snapshot that does not list it, or whose list failed) must not run the check, or it
 * would report every namespace.
 */
export const ABSENCE_CHECK_KINDS: Readonly<Record<string, readonly string[]>> = {
  'namespace-network-policy-missing': ['NetworkPolicy'],
  'namespace-default-deny-missing': ['NetworkPolicy'],
  'namespace-limit-range-missing': ['LimitRange'],
  'namespace-resource-quota-missing': ['ResourceQuota'],
  'namespace-admission-policy-missing': [
    'ValidatingWebhookConfiguration',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ],
};

/** Ids of the absence checks a source that read only `readableKinds` cannot judge, sorted. */
export function unjudgeableAbsenceChecks(readableKinds: Iterable<string>): string[] {
  const readable = new Set(readableKinds);
  return Object.entries(ABSENCE_CHECK_KINDS)
    .filter(([, kinds]) => kinds.some((k) => !readable.has(k)))
    .map(([id]) => id)
    .sort();
}

// ---------------------------------------------------------------- the checks

const NONE = (): Violation[] => [];

/** Kinds only the admission policy check reads: known (not skipped) while it is in force. */
const ADMISSION_KINDS = [
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
];

export const CIS_NSA_CHECKS: readonly Check[] = [
  {
    id: 'workload-secret-env-reference',
    version: 1,
    severity: 'low',
    title: 'Secret passed as an environment variable',
    description:
      'A Secret read into an environment variable (env[].valueFrom.secretKeyRef, envFrom[].secretRef) is visible in /proc/<pid>/environ, inherited by every child process and often written to logs and crash dumps; a mounted file can be read-only, updated in place and kept to one container.',
    remediation:
      'Mount the Secret as a volume (secret or projected) and have the application read the file; remove the secretKeyRef/secretRef.',
    frameworks: { CIS: ['5.4.1'], NSA: ['Secrets'], MITRE: ['T1552'] },
    check: secretEnvReferences,
  },
  {
    id: 'workload-no-security-context',
    version: 1,
    severity: 'low',
    title: 'No security context',
    description:
      'Neither the pod nor the container sets a securityContext: the container runs as the image user (often root), with the runtime default capabilities, privilege escalation allowed and a writable root filesystem.',
    remediation:
      'Set securityContext on the pod (runAsNonRoot, seccompProfile) and on each container (allowPrivilegeEscalation: false, capabilities.drop: [ALL], readOnlyRootFilesystem: true).',
    frameworks: { CIS: ['5.7.3'], NSA: ['Pod security: security contexts'], MITRE: ['T1611'] },
    check: missingSecurityContext,
  },
  {
    id: 'ingress-tls-missing',
    version: 1,
    severity: 'low',
    title: 'Ingress without TLS',
    description:
      'An Ingress with no tls section serves its hosts over plain HTTP: credentials and session tokens cross the network in clear text.',
    remediation: 'Add spec.tls with the hosts and a certificate Secret (cert-manager can issue it).',
    frameworks: { NSA: ['Network separation and hardening: TLS encryption'], MITRE: ['T1040', 'T1557'] },
    check: ingressWithoutTls,
  },
  {
    id: 'secret-legacy-service-account-token',
    version: 1,
    severity: 'medium',
    title: 'Long-lived service account token Secret',
    description:
      'A Secret of type kubernetes.io/service-account-token holds a token that never expires and works from anywhere until the Secret is deleted; pods get short-lived, audience-bound projected tokens instead.',
    remediation:
      'Delete the Secret and use projected service account tokens (or `kubectl create token` with a duration) where a token is needed outside a pod.',
    frameworks: { NSA: ['Pod security: service account tokens'], MITRE: ['T1528', 'T1078'] },
    check: legacyServiceAccountToken,
  },
  {
    id: 'namespace-admission-policy-missing',
    version: 1,
    severity: 'medium',
    title: 'No admission policy for pods',
    description:
      'Nothing stops a privileged pod in the namespace: it has no Pod Security admission enforce label at baseline or restricted, and no validating webhook or ValidatingAdmissionPolicy (with a Deny binding) in the input covers pod creation there. Judged on Namespace objects of the input; kube-system, kube-public and kube-node-lease are exempt.',
    remediation:
      'Label the namespace pod-security.kubernetes.io/enforce=baseline (or restricted), or deploy a policy engine (Kyverno, Gatekeeper, ValidatingAdmissionPolicy) that validates pods in it.',
    frameworks: { CIS: ['5.2.1'], NSA: ['Pod security: admission control'], MITRE: ['T1610', 'T1611'] },
    kinds: ADMISSION_KINDS,
    check: NONE,
    analyze: admissionPolicyMissing,
  },
  {
    id: 'namespace-network-policy-missing',
    version: 1,
    severity: 'medium',
    title: 'Namespace without NetworkPolicy',
    description:
      'No NetworkPolicy selects any pod of the namespace, so every pod accepts connections from every pod of the cluster and may connect anywhere: one compromised workload reaches them all. Judged on namespaces whose Namespace object is in the input and that run workloads.',
    remediation:
      'Add a default-deny NetworkPolicy (podSelector: {}, policyTypes: [Ingress, Egress]) and policies that allow the traffic each workload needs.',
    frameworks: {
      CIS: ['5.3.2'],
      NSA: ['Network separation and hardening: network policies'],
      MITRE: ['T1046', 'T1210'],
    },
    check: NONE,
    analyze: namespaceLacks('NetworkPolicy', 'every pod accepts traffic from anywhere in the cluster'),
  },
  {
    id: 'namespace-default-deny-missing',
    version: 1,
    severity: 'low',
    title: 'No default-deny NetworkPolicy',
    description:
      'The namespace has NetworkPolicies, but none selects every pod (podSelector: {}) and denies ingress or egress outright, so a pod no policy selects stays open. The NSA/CISA guide asks for an explicit deny-all policy in each direction.',
    remediation:
      'Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress, Egress] and no rules; allow needed traffic in other policies.',
    frameworks: { NSA: ['Network separation and hardening: network policies'], MITRE: ['T1046', 'T1210'] },
    check: NONE,
    analyze: defaultDenyMissing,
  },
  {
    id: 'namespace-limit-range-missing',
    version: 1,
    severity: 'low',
    title: 'Namespace without LimitRange',
    description:
      'No LimitRange gives containers of the namespace default requests and limits, so a container that sets none can use all of its node. Judged on namespaces whose Namespace object is in the input and that run workloads.',
    remediation: 'Add a LimitRange with default and defaultRequest for cpu and memory (and max where needed).',
    frameworks: { NSA: ['Pod security: resource policies'], MITRE: ['T1496', 'T1499'] },
    check: NONE,
    analyze: namespaceLacks('LimitRange', 'containers without limits get none'),
  },
  {
    id: 'namespace-resource-quota-missing',
    version: 1,
    severity: 'low',
    title: 'Namespace without ResourceQuota',
    description:
      'No ResourceQuota caps what the namespace may consume in total: a runaway or compromised workload can scale until the cluster is full. Judged on namespaces whose Namespace object is in the input and that run workloads.',
    remediation: 'Add a ResourceQuota with limits on requests.cpu, requests.memory, limits.* and object counts.',
    frameworks: { NSA: ['Pod security: resource policies'], MITRE: ['T1496', 'T1499'] },
    check: NONE,
    analyze: namespaceLacks('ResourceQuota', 'nothing caps its total consumption'),
  },
];
