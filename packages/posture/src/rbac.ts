/**
 * The RBAC model: Roles, ClusterRoles (aggregation included), RoleBindings and
 * ClusterRoleBindings of the input, resolved into grants — which subject may do what, in which
 * namespace (or cluster-wide), through which binding and role. Matching follows the API
 * server's authorizer (k8s.io/kubernetes/pkg/apis/rbac/v1 evaluation helpers): `*` matches every
 * verb, group and resource, `*` + `/sub` every resource's subresource `sub`.
 */
import { arrAt, isObject, objAt, strAt, type JsonObject } from './path.js';
import type { ClusterIndex, Located } from './analysis.js';

export interface PolicyRule {
  verbs: readonly string[];
  apiGroups: readonly string[];
  resources: readonly string[];
  resourceNames: readonly string[];
  nonResourceURLs: readonly string[];
}

/** A rule and where it was written: the role it belongs to and its index there. */
export interface SourcedRule {
  rule: PolicyRule;
  /** `ClusterRole name` (or `Role ns/name`) the rule is written in: an aggregated role names its source. */
  from: string;
  index: number;
  /** The role object, when it came from the input (built-in roles have none). */
  at?: Located;
}

export interface RoleDef {
  kind: 'Role' | 'ClusterRole';
  namespace: string | undefined;
  name: string;
  rules: readonly SourcedRule[];
  /** The role object, or undefined for a built-in role not in the input. */
  at?: Located;
  builtin: boolean;
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  /** ServiceAccounts only. */
  namespace?: string;
}

export interface BindingDef {
  at: Located;
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  namespace: string | undefined;
  name: string;
  roleRef: { kind: string; name: string };
  subjects: ReadonlyArray<{ subject: Subject; index: number }>;
}

/** One subject's permission through one binding: effective permissions are the set of these. */
export interface Grant {
  subject: Subject;
  subjectIndex: number;
  /** Namespace the grant applies in; undefined when cluster-wide (ClusterRoleBinding). */
  namespace: string | undefined;
  binding: BindingDef;
  /** The role the binding refers to, or undefined when it is neither in the input nor built in. */
  role: RoleDef | undefined;
}

/** Bootstrap ClusterRoles, condensed to the rules the risk checks judge (kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy). */
const WORKLOAD_RESOURCES = ['pods', 'deployments', 'statefulsets', 'daemonsets', 'replicasets', 'jobs', 'cronjobs'];
const BUILTIN_RULES: Readonly<Record<string, readonly PolicyRule[]>> = {
  'cluster-admin': [
    rule(['*'], ['*'], ['*']),
    { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] },
  ],
  admin: [
    rule(
      ['create', 'delete', 'deletecollection', 'patch', 'update', 'get', 'list', 'watch'],
      ['', 'apps', 'batch'],
      [
        ...WORKLOAD_RESOURCES,
        'pods/exec',
        'pods/attach',
        'pods/portforward',
        'secrets',
        'services',
        'configmaps',
        'serviceaccounts',
      ],
    ),
    rule(['impersonate'], [''], ['serviceaccounts']),
    rule(
      ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      ['rbac.authorization.k8s.io'],
      ['roles', 'rolebindings'],
    ),
  ],
  edit: [
    rule(
      ['create', 'delete', 'deletecollection', 'patch', 'update', 'get', 'list', 'watch'],
      ['', 'apps', 'batch'],
      [
        ...WORKLOAD_RESOURCES,
        'pods/exec',
        'pods/attach',
        'pods/portforward',
        'secrets',
        'services',
        'configmaps',
        'serviceaccounts',
      ],
    ),
    rule(['impersonate'], [''], ['serviceaccounts']),
  ],
  view: [rule(['get', 'list', 'watch'], ['', 'apps', 'batch'], [...WORKLOAD_RESOURCES, 'services', 'configmaps'])],
};

function rule(verbs: string[], apiGroups: string[], resources: string[]): PolicyRule {
  return { verbs, apiGroups, resources, resourceNames: [], nonResourceURLs: [] };
}

function strings(o: unknown, key: string): string[] {
  return arrAt(o, key).filter((v): v is string => typeof v === 'string');
}

export function parseRule(r: unknown): PolicyRule {
  return {
    verbs: strings(r, 'verbs'),
    apiGroups: strings(r, 'apiGroups'),
    resources: strings(r, 'resources'),
    resourceNames: strings(r, 'resourceNames'),
    nonResourceURLs: strings(r, 'nonResourceURLs'),
  };
}

/** The rules written in a role object itself (`rules[i]`), without aggregation. */
export function ownRules(at: Located, from: string): SourcedRule[] {
  const out: SourcedRule[] = [];
  arrAt(at.obj, 'rules').forEach((r, index) => {
    if (isObject(r)) out.push({ rule: parseRule(r), from, index, at });
  });
  return out;
}

export function verbMatches(r: PolicyRule, verb: string): boolean {
  return r.verbs.includes('*') || r.verbs.includes(verb);
}

export function groupMatches(r: PolicyRule, group: string): boolean {
  return r.apiGroups.includes('*') || r.apiGroups.includes(group);
}

/** `resource` may be `pods/exec`; a rule's `*` + `/exec` matches every resource's exec subresource. */
export function resourceMatches(r: PolicyRule, resource: string): boolean {
  const slash = resource.indexOf('/');
  const sub = slash >= 0 ? resource.slice(slash + 1) : '';
  for (const rr of r.resources) {
    if (rr === '*' || rr === resource) return true;
    if (sub !== '' && rr === `*/${sub}`) return true;
  }
  return false;
}

/** Does the rule allow `verb` on `group`/`resource` (for some object name, when resourceNames limit it)? */
export function allows(r: PolicyRule, verb: string, group: string, resource: string): boolean {
  return verbMatches(r, verb) && groupMatches(r, group) && resourceMatches(r, resource);
}

/** `{matchLabels, matchExpressions}` against labels, as the API server's label selectors. */
export function selectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (!isObject(selector)) return false;
  const ml = objAt(selector, 'matchLabels') ?? {};
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of arrAt(selector, 'matchExpressions')) {
    const key = strAt(e, 'key');
    const op = strAt(e, 'operator');
    if (key === undefined) return false;
    const values = strings(e, 'values');
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const val = labels[key];
    if (op === 'In' && !(has && val !== undefined && values.includes(val))) return false;
    if (op === 'NotIn' && has && val !== undefined && values.includes(val)) return false;
    if (op === 'Exists' && !has) return false;
    if (op === 'DoesNotExist' && has) return false;
  }
  // An empty selector in an aggregation rule selects nothing (the aggregation controller's rule).
  return Object.keys(ml).length > 0 || arrAt(selector, 'matchExpressions').length > 0;
}

export function labelsOf(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(objAt(objAt(obj, 'metadata'), 'labels') ?? {}))
    if (typeof v === 'string') out[k] = v;
  return out;
}

function subjectOf(s: unknown, bindingNamespace: string | undefined): Subject | undefined {
  const kind = strAt(s, 'kind');
  const name = strAt(s, 'name');
  if (name === undefined) return undefined;
  if (kind === 'ServiceAccount')
    return { kind, name, namespace: strAt(s, 'namespace') ?? bindingNamespace ?? 'default' };
  if (kind === 'User' || kind === 'Group') return { kind, name };
  return undefined;
}

export function formatSubject(s: Subject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? 'default'}/${s.name}` : `${s.kind} ${s.name}`;
}

export function formatRole(r: { kind: string; namespace: string | undefined; name: string }): string {
  return r.kind === 'Role' ? `Role ${r.namespace ?? 'default'}/${r.name}` : `ClusterRole ${r.name}`;
}

// Objects without a namespace are read as if in "default", where kubectl would put them.
function nsKey(ns: string | undefined, name: string): string {
  return `${ns ?? 'default'}\u0000${name}`;
}

/** RBAC of the input, resolved. */
export class RbacModel {
  readonly roles: RoleDef[] = [];
  readonly clusterRoles = new Map<string, RoleDef>();
  readonly bindings: BindingDef[] = [];
  private readonly namespacedRoles = new Map<string, RoleDef>();

  constructor(index: ClusterIndex) {
    for (const at of index.of('Role')) {
      const def: RoleDef = {
        kind: 'Role',
        namespace: at.namespace,
        name: at.name,
        rules: ownRules(at, formatRole(at)),
        at,
        builtin: false,
      };
      this.roles.push(def);
      this.namespacedRoles.set(nsKey(at.namespace, at.name), def);
    }
    this.resolveClusterRoles(index.of('ClusterRole'));
    for (const kind of ['RoleBinding', 'ClusterRoleBinding'] as const) {
      for (const at of index.of(kind)) {
        const ref = objAt(at.obj, 'roleRef');
        const subjects: Array<{ subject: Subject; index: number }> = [];
        arrAt(at.obj, 'subjects').forEach((s, i) => {
          const subject = subjectOf(s, kind === 'RoleBinding' ? (at.namespace ?? 'default') : undefined);
          if (subject) subjects.push({ subject, index: i });
        });
        this.bindings.push({
          at,
          kind,
          namespace: at.namespace,
          name: at.name,
          roleRef: { kind: strAt(ref, 'kind') ?? 'ClusterRole', name: strAt(ref, 'name') ?? '' },
          subjects,
        });
      }
    }
  }

  /** ClusterRoles with their aggregated rules; built-in roles fill in for those not in the input. */
  private resolveClusterRoles(list: readonly Located[]): void {
    const byName = new Map<string, Located>();
    for (const at of list) byName.set(at.name, at);
    const labels = list.map((at) => ({ at, labels: labelsOf(at.obj) }));
    const resolving = new Set<string>();
    const resolve = (name: string): RoleDef | undefined => {
      const done = this.clusterRoles.get(name);
      if (done) return done;
      const at = byName.get(name);
      const builtin = BUILTIN_RULES[name];
      if (at === undefined && builtin === undefined) return undefined;
      if (resolving.has(name)) return undefined; // an aggregation cycle: the controller never settles it either
      resolving.add(name);
      const rules: SourcedRule[] = at ? ownRules(at, `ClusterRole ${name}`) : [];
      if (at === undefined && builtin)
        builtin.forEach((r, index) => rules.push({ rule: r, from: `ClusterRole ${name} (built-in)`, index }));
      // Built-in admin/edit/view aggregate the roles labelled for them, as in a real cluster.
      const selectors = at
        ? arrAt(objAt(at.obj, 'aggregationRule'), 'clusterRoleSelectors')
        : builtin && name !== 'cluster-admin'
          ? [{ matchLabels: { [`rbac.authorization.k8s.io/aggregate-to-${name}`]: 'true' } }]
          : [];
      if (selectors.length > 0) {
        for (const other of labels) {
          if (other.at.name === name || !selectors.some((s) => selectorMatches(s, other.labels))) continue;
          const def = resolve(other.at.name);
          if (def) rules.push(...def.rules);
        }
      }
      resolving.delete(name);
      const def: RoleDef = {
        kind: 'ClusterRole',
        namespace: undefined,
        name,
        rules,
        builtin: at === undefined,
        ...(at ? { at } : {}),
      };
      this.clusterRoles.set(name, def);
      return def;
    };
    for (const at of list) resolve(at.name);
    for (const name of Object.keys(BUILTIN_RULES)) resolve(name);
  }

  /** The role a binding refers to: a Role in the binding's namespace, or a ClusterRole. */
  roleOf(b: BindingDef): RoleDef | undefined {
    if (b.roleRef.kind === 'Role')
      return b.kind === 'RoleBinding' ? this.namespacedRoles.get(nsKey(b.namespace, b.roleRef.name)) : undefined;
    return this.clusterRoles.get(b.roleRef.name);
  }

  /** Every subject's grants: the effective permissions of the input, binding by binding. */
  grants(): Grant[] {
    const out: Grant[] = [];
    for (const binding of this.bindings) {
      const role = this.roleOf(binding);
      const namespace = binding.kind === 'RoleBinding' ? (binding.namespace ?? 'default') : undefined;
      for (const { subject, index } of binding.subjects)
        out.push({ subject, subjectIndex: index, namespace, binding, role });
    }
    return out;
  }

  /**
   * Effective permissions per subject and namespace (`*` for cluster-wide), as readable
   * `verb group/resource` strings, sorted: what `kubectl auth can-i --list` would answer.
   */
  effectivePermissions(): Map<string, Map<string, string[]>> {
    const out = new Map<string, Map<string, Set<string>>>();
    for (const g of this.grants()) {
      if (!g.role) continue;
      const subj = formatSubject(g.subject);
      let perNs = out.get(subj);
      if (!perNs) out.set(subj, (perNs = new Map<string, Set<string>>()));
      const ns = g.namespace ?? '*';
      let set = perNs.get(ns);
      if (!set) perNs.set(ns, (set = new Set<string>()));
      for (const { rule: r } of g.role.rules) {
        for (const v of r.verbs) {
          for (const grp of r.apiGroups)
            for (const res of r.resources) set.add(`${v} ${grp === '' ? 'core' : grp}/${res}`);
          for (const url of r.nonResourceURLs) set.add(`${v} ${url}`);
        }
      }
    }
    const sorted = new Map<string, Map<string, string[]>>();
    for (const subj of [...out.keys()].sort()) {
      const perNs = out.get(subj) ?? new Map<string, Set<string>>();
      const m = new Map<string, string[]>();
      for (const ns of [...perNs.keys()].sort()) m.set(ns, [...(perNs.get(ns) ?? [])].sort());
      sorted.set(subj, m);
    }
    return sorted;
  }
}

/** Roles and bindings shipped with Kubernetes or its platforms, exempt as Polaris exempts them. */
export function isSystemName(name: string): boolean {
  return name.startsWith('system:') || name === 'gce:podsecuritypolicy:calico-sa';
}

/** Default ClusterRoles whose broad rules are by design (users bind them; the binding is judged). */
export const DEFAULT_CLUSTER_ROLES: ReadonlySet<string> = new Set(['cluster-admin', 'admin', 'edit', 'view']);

export function isJsonObject(v: unknown): v is JsonObject {
  return isObject(v);
}
