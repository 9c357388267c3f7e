/**
 * RBAC risk checks. Each permission risk is judged twice under one check id: on the Role or
 * ClusterRole that writes the rule (what a role allows, even unbound; path `rules[i]`), and on
 * each binding subject it reaches (who can do it, where, through which binding and role; path
 * `subjects[i]`). Roles and bindings shipped with Kubernetes (`system:` names, the default
 * cluster-admin/admin/edit/view ClusterRoles) are exempt at their definition, as in Polaris;
 * a user's binding to them is still judged.
 */
import type { AnalysisViolation, Check, Violation } from './check.js';
import type { ClusterIndex, Located } from './analysis.js';
import { objAt, strAt, type JsonObject } from './path.js';
import {
  DEFAULT_CLUSTER_ROLES,
  RbacModel,
  allows,
  formatRole,
  formatSubject,
  isSystemName,
  ownRules,
  type Grant,
  type PolicyRule,
  type SourcedRule,
} from './rbac.js';

/** One permission to look for: candidate verbs × group × resources. */
interface Want {
  verbs: readonly string[];
  groups: readonly string[];
  resources: readonly string[];
  /** Cluster-scoped resources: a Role, or a ClusterRole bound by a RoleBinding, cannot grant them. */
  clusterScoped?: true;
}

/** What of `wants` the rule allows, as `verb,verb resource,resource`; undefined when nothing. */
function granted(r: PolicyRule, wants: readonly Want[], namespaced: boolean): string | undefined {
  const verbs = new Set<string>();
  const resources = new Set<string>();
  for (const w of wants) {
    if (namespaced && w.clusterScoped) continue;
    for (const g of w.groups) {
      for (const res of w.resources) {
        for (const v of w.verbs) {
          if (allows(r, v, g, res)) {
            verbs.add(v);
            resources.add(res);
          }
        }
      }
    }
  }
  if (verbs.size === 0) return undefined;
  const names = r.resourceNames.length > 0 ? ` (only ${r.resourceNames.join(', ')})` : '';
  return `${[...verbs].sort().join('/')} ${[...resources].sort().join(', ')}${names}`;
}

const ALL_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** A rule equal to cluster-admin's: every group, every resource, every verb. */
function clusterAdminRule(r: PolicyRule): boolean {
  return (
    r.apiGroups.includes('*') &&
    r.resources.includes('*') &&
    r.resourceNames.length === 0 &&
    (r.verbs.includes('*') || ALL_VERBS.every((v) => r.verbs.includes(v)))
  );
}

interface Risk {
  wants: readonly Want[];
}

const RISKS = {
  secrets: { wants: [{ verbs: ['get', 'list', 'watch'], groups: [''], resources: ['secrets'] }] },
  createPods: { wants: [{ verbs: ['create'], groups: [''], resources: ['pods'] }] },
  execAttach: { wants: [{ verbs: ['create', 'get'], groups: [''], resources: ['pods/exec', 'pods/attach'] }] },
  escalate: {
    wants: [
      { verbs: ['escalate', 'bind'], groups: ['rbac.authorization.k8s.io'], resources: ['roles'] },
      {
        verbs: ['escalate', 'bind'],
        groups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        clusterScoped: true,
      },
      { verbs: ['impersonate'], groups: [''], resources: ['serviceaccounts'] },
      { verbs: ['impersonate'], groups: [''], resources: ['users', 'groups'], clusterScoped: true },
      {
        verbs: ['impersonate'],
        groups: ['authentication.k8s.io'],
        resources: ['userextras', 'uids'],
        clusterScoped: true,
      },
    ],
  },
  nodesProxy: { wants: [{ verbs: ['get', 'create'], groups: [''], resources: ['nodes/proxy'], clusterScoped: true }] },
  persistentVolumes: {
    wants: [{ verbs: ['create'], groups: [''], resources: ['persistentvolumes'], clusterScoped: true }],
  },
  csrApproval: {
    wants: [
      {
        verbs: ['update', 'patch'],
        groups: ['certificates.k8s.io'],
        resources: ['certificatesigningrequests/approval'],
        clusterScoped: true,
      },
    ],
  },
  webhookConfigurations: {
    wants: [
      {
        verbs: ['create', 'update', 'patch', 'delete'],
        groups: ['admissionregistration.k8s.io'],
        resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
        clusterScoped: true,
      },
    ],
  },
  tokenCreate: { wants: [{ verbs: ['create'], groups: [''], resources: ['serviceaccounts/token'] }] },
} satisfies Record<string, Risk>;

/** A risky permission by name, as attack paths read a service account's rights. */
export type RbacRiskName = keyof typeof RISKS | 'clusterAdmin';

/**
 * The risky permissions one grant gives (each with what it allows, as findings word it).
 * The grant's scope (cluster-wide or one namespace) is the grant's own.
 */
export function grantRisks(g: Grant): Array<{ risk: RbacRiskName; what: string }> {
  if (g.role === undefined) return [];
  const out: Array<{ risk: RbacRiskName; what: string }> = [];
  if (g.binding.roleRef.kind === 'ClusterRole' && g.binding.roleRef.name === 'cluster-admin')
    out.push({ risk: 'clusterAdmin', what: 'cluster-admin' });
  else if (g.role.rules.some((s) => clusterAdminRule(s.rule)))
    out.push({ risk: 'clusterAdmin', what: 'every verb on every resource' });
  for (const [name, risk] of Object.entries(RISKS) as Array<[keyof typeof RISKS, Risk]>) {
    for (const s of g.role.rules) {
      const what = granted(s.rule, risk.wants, g.namespace !== undefined);
      if (what === undefined) continue;
      out.push({ risk: name, what });
      break;
    }
  }
  return out;
}

// One model per index: every RBAC check of a scan shares it.
const MODELS = new WeakMap<ClusterIndex, RbacModel>();
export function rbacModelOf(index: ClusterIndex): RbacModel {
  let m = MODELS.get(index);
  if (!m) MODELS.set(index, (m = new RbacModel(index)));
  return m;
}

function isRoleKind(kind: string | undefined): kind is 'Role' | 'ClusterRole' {
  return kind === 'Role' || kind === 'ClusterRole';
}

/** Role definitions exempt from role-level findings: shipped with Kubernetes or its platforms. */
function roleExempt(obj: JsonObject): boolean {
  const name = strAt(objAt(obj, 'metadata'), 'name') ?? '';
  return isSystemName(name) || (strAt(obj, 'kind') === 'ClusterRole' && DEFAULT_CLUSTER_ROLES.has(name));
}

/** Bindings exempt from binding-level findings: `system:` ones and the default cluster-admin binding. */
function bindingExempt(g: Grant): boolean {
  return (
    isSystemName(g.binding.name) || (g.binding.kind === 'ClusterRoleBinding' && g.binding.name === 'cluster-admin')
  );
}

function ruleSource(s: SourcedRule): string {
  return `${s.from} rules[${s.index}]`;
}

function scopeOf(g: Grant): string {
  return g.namespace === undefined ? 'cluster-wide' : `in namespace ${g.namespace}`;
}

function via(g: Grant): string {
  const b = g.binding;
  const bname = b.kind === 'RoleBinding' ? `${b.namespace ?? 'default'}/${b.name}` : b.name;
  const role = g.role
    ? formatRole(g.role)
    : formatRole({ kind: b.roleRef.kind, namespace: b.namespace, name: b.roleRef.name });
  return `${b.kind} ${bname} → ${role}`;
}

/** Role-level half of a permission risk: each rule of the role that allows it. */
function roleRisk(risk: Risk): (obj: JsonObject) => Violation[] {
  return (obj) => {
    const kind = strAt(obj, 'kind');
    if (!isRoleKind(kind) || roleExempt(obj)) return [];
    const name = strAt(objAt(obj, 'metadata'), 'name') ?? '(unnamed)';
    const at = { obj } as Located;
    const out: Violation[] = [];
    for (const s of ownRules(at, name)) {
      const what = granted(s.rule, risk.wants, kind === 'Role');
      if (what !== undefined)
        out.push({ path: ['rules', s.index], message: `${kind} ${name} allows ${what} (rules[${s.index}])` });
    }
    return out;
  };
}

/** Binding-level half: each subject the risk reaches, with the binding → role path and the rules. */
function grantRisk(risk: Risk): (index: ClusterIndex) => AnalysisViolation[] {
  return (index) => {
    const out: AnalysisViolation[] = [];
    for (const g of rbacModelOf(index).grants()) {
      if (g.role === undefined || bindingExempt(g)) continue;
      const whats: string[] = [];
      const sources: string[] = [];
      for (const s of g.role.rules) {
        const what = granted(s.rule, risk.wants, g.namespace !== undefined);
        if (what === undefined) continue;
        if (!whats.includes(what)) whats.push(what);
        sources.push(ruleSource(s));
      }
      if (whats.length === 0) continue;
      out.push({
        at: g.binding.at,
        violation: {
          path: ['subjects', g.subjectIndex],
          message: `${formatSubject(g.subject)} can ${whats.join('; ')} ${scopeOf(g)} via ${via(g)} (${sources.join(', ')})`,
        },
      });
    }
    return out;
  };
}

function clusterAdminGrants(index: ClusterIndex): AnalysisViolation[] {
  const out: AnalysisViolation[] = [];
  for (const g of rbacModelOf(index).grants()) {
    if (bindingExempt(g)) continue;
    const byName = g.binding.roleRef.kind === 'ClusterRole' && g.binding.roleRef.name === 'cluster-admin';
    const rule = g.role?.rules.find((s) => clusterAdminRule(s.rule));
    if (!byName && rule === undefined) continue;
    const why = byName
      ? 'the cluster-admin ClusterRole'
      : `all verbs on all resources (${ruleSource(rule as SourcedRule)})`;
    out.push({
      at: g.binding.at,
      violation: {
        path: ['subjects', g.subjectIndex],
        message: `${formatSubject(g.subject)} is granted ${why} ${scopeOf(g)} via ${via(g)}`,
      },
    });
  }
  return out;
}

/** Bindings that hand the default discovery roles to everyone are the only safe broad ones. */
const PUBLIC_ROLES = new Set(['system:basic-user', 'system:discovery', 'system:public-info-viewer']);
const PUBLIC_SUBJECTS = new Set([
  'User system:anonymous',
  'Group system:unauthenticated',
  'Group system:authenticated',
]);

function anonymousGrants(index: ClusterIndex): AnalysisViolation[] {
  const out: AnalysisViolation[] = [];
  for (const g of rbacModelOf(index).grants()) {
    const subj = formatSubject(g.subject);
    if (
      !PUBLIC_SUBJECTS.has(subj) ||
      (g.binding.roleRef.kind === 'ClusterRole' && PUBLIC_ROLES.has(g.binding.roleRef.name))
    )
      continue;
    const who = subj === 'Group system:authenticated' ? 'every authenticated user' : 'anyone, without credentials';
    out.push({
      at: g.binding.at,
      violation: { path: ['subjects', g.subjectIndex], message: `${subj} (${who}) is granted ${via(g)} ${scopeOf(g)}` },
    });
  }
  return out;
}

function defaultServiceAccountGrants(index: ClusterIndex): AnalysisViolation[] {
  const out: AnalysisViolation[] = [];
  for (const g of rbacModelOf(index).grants()) {
    if (g.subject.kind !== 'ServiceAccount' || g.subject.name !== 'default' || bindingExempt(g)) continue;
    out.push({
      at: g.binding.at,
      violation: {
        path: ['subjects', g.subjectIndex],
        message: `${formatSubject(g.subject)} (used by every pod that names no service account) is granted ${via(g)} ${scopeOf(g)}`,
      },
    });
  }
  return out;
}

/** The default ServiceAccount of a namespace should not hand its token to every pod (CIS 5.1.5). */
function defaultServiceAccountObject(obj: JsonObject): Violation[] {
  if (strAt(obj, 'kind') !== 'ServiceAccount' || strAt(objAt(obj, 'metadata'), 'name') !== 'default') return [];
  if (obj.automountServiceAccountToken === false) return [];
  return [
    {
      path: ['automountServiceAccountToken'],
      message: 'the default service account automounts its token into every pod that names no service account',
    },
  ];
}

function unresolvedRoleRefs(index: ClusterIndex): AnalysisViolation[] {
  const model = rbacModelOf(index);
  const out: AnalysisViolation[] = [];
  for (const b of model.bindings) {
    if (isSystemName(b.name) || isSystemName(b.roleRef.name) || model.roleOf(b) !== undefined) continue;
    const where = b.roleRef.kind === 'Role' ? ` in namespace ${b.namespace ?? 'default'}` : '';
    out.push({
      at: b.at,
      violation: {
        path: ['roleRef', 'name'],
        message: `${b.kind} ${b.name} refers to ${b.roleRef.kind} ${b.roleRef.name}${where}, which is not in the input: what it grants could not be checked`,
      },
    });
  }
  return out;
}

/** Wildcards in a rule (CIS 5.1.3): the field holding `*`. */
function wildcards(obj: JsonObject): Violation[] {
  const kind = strAt(obj, 'kind');
  if (!isRoleKind(kind) || roleExempt(obj)) return [];
  const name = strAt(objAt(obj, 'metadata'), 'name') ?? '(unnamed)';
  const out: Violation[] = [];
  for (const s of ownRules({ obj } as Located, name)) {
    for (const field of ['verbs', 'resources', 'apiGroups'] as const) {
      const i = s.rule[field].indexOf('*');
      if (i < 0) continue;
      out.push({
        path: ['rules', s.index, field, i],
        message: `${kind} ${name} rules[${s.index}].${field} is "*": it grants whatever exists now and anything added later`,
      });
    }
  }
  return out;
}

const RBAC_DOC = 'https://kubernetes.io/docs/concepts/security/rbac-good-practices/';
const NONE = (): Violation[] => [];

/** Role-level and binding-level halves under one id. */
function riskCheck(base: Omit<Check, 'check' | 'analyze' | 'version' | 'name'>, risk: Risk): Check {
  return { ...base, version: 1, check: roleRisk(risk), analyze: grantRisk(risk) };
}

export const RBAC_CHECKS: readonly Check[] = [
  {
    id: 'rbac-cluster-admin-binding',
    version: 1,
    severity: 'critical',
    title: 'Subject bound to cluster-admin',
    description: `A binding to cluster-admin (or a role with every verb on every resource in every API group) gives full control of the cluster, or of the namespace for a RoleBinding. ${RBAC_DOC}`,
    remediation:
      'Bind a role that grants only the verbs and resources the subject needs; keep cluster-admin for break-glass use.',
    frameworks: {
      CIS: ['5.1.1'],
      NSA: ['Authentication and authorization: least privilege'],
      MITRE: ['T1078', 'T1098'],
    },
    check: NONE,
    analyze: clusterAdminGrants,
  },
  riskCheck(
    {
      id: 'rbac-secrets-access',
      severity: 'high',
      title: 'Secrets readable',
      description: `get, list or watch on secrets reads every credential in scope, including service account tokens that lead to further access. ${RBAC_DOC}`,
      remediation:
        'Remove get/list/watch on secrets from the role, or limit it with resourceNames to the secrets the subject needs.',
      frameworks: { CIS: ['5.1.2'], NSA: ['Authentication and authorization: least privilege'], MITRE: ['T1552.007'] },
    },
    RISKS.secrets,
  ),
  {
    id: 'rbac-wildcard',
    version: 1,
    severity: 'medium',
    title: 'Wildcard in a role',
    description: `"*" in verbs, resources or apiGroups grants everything that exists now and every resource added later (CRDs included). ${RBAC_DOC}`,
    remediation: 'List the verbs, resources and API groups the role needs instead of "*".',
    frameworks: { CIS: ['5.1.3'], NSA: ['Authentication and authorization: least privilege'], MITRE: ['T1078'] },
    check: wildcards,
  },
  riskCheck(
    {
      id: 'rbac-create-pods',
      severity: 'high',
      title: 'Pods can be created',
      description: `Creating pods lets a subject run any image as any service account of the namespace and mount its secrets: privilege escalation to what those accounts can do. ${RBAC_DOC}`,
      remediation: 'Remove create on pods; let controllers (Deployments, Jobs) create pods under admission policy.',
      frameworks: { CIS: ['5.1.4'], NSA: ['Authentication and authorization: least privilege'], MITRE: ['T1610'] },
    },
    RISKS.createPods,
  ),
  riskCheck(
    {
      id: 'rbac-pod-exec-attach',
      severity: 'high',
      title: 'Exec or attach into pods',
      description: `create or get on pods/exec or pods/attach runs commands in running containers, with their service account tokens and mounted secrets. ${RBAC_DOC}`,
      remediation: 'Remove pods/exec and pods/attach from the role; grant them only to on-call break-glass roles.',
      frameworks: { NSA: ['Authentication and authorization: least privilege'], MITRE: ['T1609'] },
    },
    RISKS.execAttach,
  ),
  riskCheck(
    {
      id: 'rbac-escalate-bind-impersonate',
      severity: 'critical',
      title: 'escalate, bind or impersonate allowed',
      description: `escalate and bind let a subject create or bind roles beyond its own permissions; impersonate lets it act as any user, group or service account. ${RBAC_DOC}`,
      remediation:
        'Remove escalate, bind and impersonate from the role; grant bind with resourceNames on specific roles when a controller needs it.',
      frameworks: {
        CIS: ['5.1.8'],
        NSA: ['Authentication and authorization: least privilege'],
        MITRE: ['T1078', 'T1098'],
      },
    },
    RISKS.escalate,
  ),
  riskCheck(
    {
      id: 'rbac-nodes-proxy',
      severity: 'high',
      title: 'nodes/proxy allowed',
      description: `nodes/proxy reaches the kubelet API directly, which runs commands in any pod of the node and bypasses audit logging and admission. ${RBAC_DOC}`,
      remediation: 'Remove nodes/proxy from the role; monitoring agents need only nodes/metrics and nodes/stats.',
      frameworks: {
        CIS: ['5.1.10'],
        NSA: ['Authentication and authorization: least privilege'],
        MITRE: ['T1609', 'T1611'],
      },
    },
    RISKS.nodesProxy,
  ),
  riskCheck(
    {
      id: 'rbac-create-persistent-volumes',
      severity: 'high',
      title: 'PersistentVolumes can be created',
      description: `Creating a PersistentVolume can point a hostPath (or another node-level source) at any directory of a node, and a pod that claims it reads or writes the node's filesystem. ${RBAC_DOC}`,
      remediation:
        'Remove create on persistentvolumes; let users request storage with PersistentVolumeClaims from a StorageClass.',
      frameworks: { CIS: ['5.1.9'], NSA: ['Authentication and authorization: least privilege'], MITRE: ['T1611'] },
    },
    RISKS.persistentVolumes,
  ),
  riskCheck(
    {
      id: 'rbac-csr-approval',
      severity: 'high',
      title: 'CertificateSigningRequests can be approved',
      description: `update or patch on certificatesigningrequests/approval approves client certificates: with a signer that issues them, a subject can mint a certificate for any user or group, system:masters included. ${RBAC_DOC}`,
      remediation:
        'Remove certificatesigningrequests/approval from the role; keep approval to the controller manager and administrators.',
      frameworks: {
        CIS: ['5.1.11'],
        NSA: ['Authentication and authorization: least privilege'],
        MITRE: ['T1078', 'T1098'],
      },
    },
    RISKS.csrApproval,
  ),
  riskCheck(
    {
      id: 'rbac-webhook-configuration',
      severity: 'high',
      title: 'Admission webhook configurations can be changed',
      description: `Creating, changing or deleting validating or mutating webhook configurations disables admission policy or sends every object (Secrets included) to a server of the subject's choosing, which may also rewrite pods. ${RBAC_DOC}`,
      remediation:
        'Remove create/update/patch/delete on validatingwebhookconfigurations and mutatingwebhookconfigurations; only the policy engine that owns them needs it.',
      frameworks: {
        CIS: ['5.1.12'],
        NSA: ['Authentication and authorization: least privilege'],
        MITRE: ['T1562', 'T1098'],
      },
    },
    RISKS.webhookConfigurations,
  ),
  riskCheck(
    {
      id: 'rbac-service-account-token-create',
      severity: 'high',
      title: 'Service account tokens can be created',
      description: `create on serviceaccounts/token issues tokens for the service accounts in scope: the subject acts with every permission those accounts hold. ${RBAC_DOC}`,
      remediation:
        'Remove create on serviceaccounts/token, or limit it with resourceNames to the accounts the subject must act as.',
      frameworks: {
        CIS: ['5.1.13'],
        NSA: ['Authentication and authorization: least privilege'],
        MITRE: ['T1528', 'T1078'],
      },
    },
    RISKS.tokenCreate,
  ),
  {
    id: 'rbac-anonymous-access',
    version: 1,
    severity: 'critical',
    title: 'Permissions granted to anonymous or all users',
    description: `A binding to system:anonymous, system:unauthenticated or system:authenticated grants its role to anyone who reaches the API server (or anyone with any credential). Only the default discovery roles are safe there. ${RBAC_DOC}`,
    remediation:
      'Remove the subject from the binding and bind the specific users, groups or service accounts that need the role.',
    frameworks: { CIS: ['5.1.1'], NSA: ['Authentication and authorization: anonymous requests'], MITRE: ['T1078.001'] },
    check: NONE,
    analyze: anonymousGrants,
  },
  {
    id: 'rbac-default-service-account',
    version: 1,
    severity: 'medium',
    title: 'Default service account used',
    description: `Every pod that names no service account runs as its namespace's default one: permissions bound to it, or its automounted token, reach all of them. ${RBAC_DOC}`,
    remediation:
      'Bind permissions to a dedicated service account instead of default, and set automountServiceAccountToken: false on the default ServiceAccount.',
    frameworks: { CIS: ['5.1.5'], NSA: ['Pod security: service account tokens'], MITRE: ['T1528'] },
    check: defaultServiceAccountObject,
    analyze: defaultServiceAccountGrants,
  },
  {
    id: 'rbac-unresolved-role-ref',
    version: 1,
    severity: 'low',
    title: 'Binding to a role not in the input',
    description:
      'The binding refers to a Role or ClusterRole that is neither in the input nor a built-in role Palisade knows, so what it grants could not be judged (a typo leaves the binding inert until someone creates a role by that name).',
    remediation: 'Include the role in the scanned manifests, or fix roleRef.name.',
    frameworks: { NSA: ['Authentication and authorization: least privilege'] },
    check: NONE,
    analyze: unresolvedRoleRefs,
  },
];
