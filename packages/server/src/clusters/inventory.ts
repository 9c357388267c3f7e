/**
 * From a snapshot's raw Kubernetes objects to what the server stores and shows: a compact
 * kind-specific summary (a pod's containers with their images and image digests, a service's
 * ports…), a fingerprint of the parts whose change is a real modification (not status churn),
 * and a body with the fields that commonly carry secret values removed.
 *
 * Secrets are never listed by the connector (@palisade/kube has no Secret kind). What a listed
 * object can still carry is removed from the stored body: literal `env[].value`s (where
 * credentials end up in practice), the `last-applied-configuration` annotation (a full copy of
 * the object, env values included) and webhook CA bundles (bulk). Summaries carry none of these.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { objectRef, type KubeObject } from '@palisade/kube';
import type { InventoryObjectInput } from '../storage/index.js';

type Obj = Record<string, unknown>;

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
export const REDACTED = '[redacted]';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}
function s(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
function n(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

/** Kind and Kind count of a snapshot's objects, sorted by Kind. */
export function countByKind(objects: readonly KubeObject[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of objects) {
    const k = typeof o['kind'] === 'string' ? o['kind'] : '(unknown)';
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The pod spec of a pod, a workload's template, or a CronJob's job template. */
export function podSpecOf(o: KubeObject): Obj | null {
  const spec = obj(o['spec']);
  switch (o['kind']) {
    case 'Pod':
      return spec;
    case 'CronJob':
      return obj(obj(obj(obj(spec['jobTemplate'])['spec'])['template'])['spec']);
    default:
      return WORKLOAD_KINDS.has(String(o['kind'])) ? obj(obj(spec['template'])['spec']) : null;
  }
}

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** `sha256:…` of an image reference or a container status imageID (`repo@sha256:…`), else null. */
export function imageDigest(ref: string | null): string | null {
  if (ref === null) return null;
  const m = /@(sha256:[a-f0-9]{64})$/.exec(ref);
  return m?.[1] ?? null;
}

function containersSummary(o: KubeObject): Obj[] {
  const spec = podSpecOf(o);
  if (spec === null) return [];
  const statuses = new Map<string, Obj>();
  const status = obj(o['status']);
  for (const list of ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses'])
    for (const st of arr(status[list])) if (s(st['name']) !== null) statuses.set(String(st['name']), st);
  const out: Obj[] = [];
  for (const list of CONTAINER_LISTS) {
    for (const c of arr(spec[list])) {
      const name = s(c['name']) ?? '';
      const image = s(c['image']);
      const st = statuses.get(name);
      const imageID = st ? s(st['imageID']) : null;
      out.push({
        name,
        type: list === 'containers' ? 'container' : list === 'initContainers' ? 'init' : 'ephemeral',
        image,
        // The running image's digest (from the kubelet's report) for pods; the pinned one otherwise.
        imageDigest: imageDigest(imageID) ?? imageDigest(image),
        ...(o['kind'] === 'Pod'
          ? {
              imageID,
              ready: st ? st['ready'] === true : false,
              restartCount: st ? (n(st['restartCount']) ?? 0) : 0,
            }
          : {}),
      });
    }
  }
  return out;
}

function controllerOf(meta: Obj): Obj | null {
  const ref = arr(meta['ownerReferences']).find((r) => r['controller'] === true);
  return ref ? { kind: s(ref['kind']), name: s(ref['name']) } : null;
}

/** Kind-specific facts shown in the inventory. Never a secret value. */
export function summarize(o: KubeObject): Obj {
  const spec = obj(o['spec']);
  const status = obj(o['status']);
  const meta = obj(o['metadata']);
  const kind = String(o['kind']);
  if (kind === 'Pod') {
    return {
      phase: s(status['phase']),
      node: s(spec['nodeName']),
      serviceAccount: s(spec['serviceAccountName']),
      hostNetwork: spec['hostNetwork'] === true,
      podIP: s(status['podIP']),
      controller: controllerOf(meta),
      containers: containersSummary(o),
    };
  }
  if (WORKLOAD_KINDS.has(kind)) {
    const pod = podSpecOf(o) ?? {};
    return {
      ...(kind === 'CronJob' ? { schedule: s(spec['schedule']), suspend: spec['suspend'] === true } : {}),
      ...(n(spec['replicas']) !== null ? { replicas: n(spec['replicas']) } : {}),
      ...(n(status['readyReplicas']) !== null ? { readyReplicas: n(status['readyReplicas']) } : {}),
      serviceAccount: s(pod['serviceAccountName']),
      controller: controllerOf(meta),
      containers: containersSummary(o),
    };
  }
  switch (kind) {
    case 'Node': {
      const info = obj(status['nodeInfo']);
      const ready = arr(status['conditions']).find((c) => c['type'] === 'Ready');
      return {
        ready: ready ? ready['status'] === 'True' : null,
        kubeletVersion: s(info['kubeletVersion']),
        osImage: s(info['osImage']),
        kernelVersion: s(info['kernelVersion']),
        containerRuntime: s(info['containerRuntimeVersion']),
        architecture: s(info['architecture']),
        addresses: arr(status['addresses']).map((a) => ({ type: s(a['type']), address: s(a['address']) })),
      };
    }
    case 'Namespace':
      return { phase: s(status['phase']) };
    case 'Service':
      return {
        type: s(spec['type']) ?? 'ClusterIP',
        clusterIP: s(spec['clusterIP']),
        ports: arr(spec['ports']).map((p) => ({
          name: s(p['name']),
          port: n(p['port']),
          protocol: s(p['protocol']) ?? 'TCP',
          targetPort: p['targetPort'] ?? null,
          nodePort: n(p['nodePort']),
        })),
        selector: obj(spec['selector']),
        externalIPs: Array.isArray(spec['externalIPs']) ? spec['externalIPs'] : [],
        loadBalancer: arr(obj(status['loadBalancer'])['ingress']).map((i) => s(i['ip']) ?? s(i['hostname'])),
      };
    case 'Ingress':
      return {
        ingressClassName: s(spec['ingressClassName']),
        hosts: arr(spec['rules'])
          .map((r) => s(r['host']))
          .filter((h): h is string => h !== null),
        tls: arr(spec['tls']).map((t) => ({ hosts: Array.isArray(t['hosts']) ? t['hosts'] : [] })),
      };
    case 'Gateway':
      return {
        gatewayClassName: s(spec['gatewayClassName']),
        listeners: arr(spec['listeners']).map((l) => ({
          name: s(l['name']),
          port: n(l['port']),
          protocol: s(l['protocol']),
          hostname: s(l['hostname']),
        })),
      };
    case 'HTTPRoute':
      return {
        hostnames: Array.isArray(spec['hostnames']) ? spec['hostnames'] : [],
        parentRefs: arr(spec['parentRefs']).map((p) => ({ kind: s(p['kind']) ?? 'Gateway', name: s(p['name']) })),
      };
    case 'NetworkPolicy':
      return {
        podSelector: obj(spec['podSelector']),
        policyTypes: Array.isArray(spec['policyTypes']) ? spec['policyTypes'] : [],
        ingressRules: arr(spec['ingress']).length,
        egressRules: arr(spec['egress']).length,
      };
    case 'ServiceAccount':
      return {
        automountServiceAccountToken:
          typeof o['automountServiceAccountToken'] === 'boolean' ? o['automountServiceAccountToken'] : null,
      };
    case 'Role':
    case 'ClusterRole':
      return { rules: arr(o['rules']).length, aggregated: isObj(o['aggregationRule']) };
    case 'RoleBinding':
    case 'ClusterRoleBinding': {
      const ref = obj(o['roleRef']);
      return {
        roleRef: { kind: s(ref['kind']), name: s(ref['name']) },
        subjects: arr(o['subjects']).map((x) => ({
          kind: s(x['kind']),
          name: s(x['name']),
          namespace: s(x['namespace']),
        })),
      };
    }
    case 'ValidatingWebhookConfiguration':
    case 'MutatingWebhookConfiguration':
      return {
        webhooks: arr(o['webhooks']).map((w) => {
          const cc = obj(w['clientConfig']);
          const svc = obj(cc['service']);
          return {
            name: s(w['name']),
            failurePolicy: s(w['failurePolicy']),
            sideEffects: s(w['sideEffects']),
            service: s(svc['name']) ? `${s(svc['namespace']) ?? ''}/${s(svc['name']) ?? ''}` : null,
            // The host only: a URL may carry credentials in its user info or query.
            urlHost: hostOf(s(cc['url'])),
            rules: arr(w['rules']).length,
          };
        }),
      };
    default:
      return {};
  }
}

function hostOf(url: string | null): string | null {
  if (url === null) return null;
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

/** A deep copy without the fields that carry secret values or bulk nobody reads. */
export function sanitize(o: KubeObject): Obj {
  const copy = structuredClone(o);
  const meta = obj(copy['metadata']);
  delete meta['managedFields'];
  const ann = meta['annotations'];
  if (isObj(ann)) delete ann[LAST_APPLIED];
  const pod = podSpecOf(copy);
  if (pod !== null)
    for (const list of CONTAINER_LISTS)
      for (const c of arr(pod[list]))
        for (const e of arr(c['env'])) if (typeof e['value'] === 'string') e['value'] = REDACTED;
  for (const w of arr(copy['webhooks'])) {
    const cc = obj(w['clientConfig']);
    if (typeof cc['caBundle'] === 'string') cc['caBundle'] = '[omitted]';
  }
  return copy;
}

/** JSON with object keys sorted: equal content, equal text (and hash). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function hash(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}

/** Parts names as change summaries show them. */
const PART_LABELS: Record<string, string> = {
  spec: 'spec',
  content: 'content',
  labels: 'labels',
  annotations: 'annotations',
  images: 'image digests',
};

/**
 * Hashes of the parts of an object whose change is a modification: its desired state (spec,
 * or for RBAC and webhook objects everything but metadata and status), labels, annotations
 * (without last-applied), and for pods the digests actually running. Status churn (conditions,
 * counters) is not a modification.
 */
export function fingerprint(o: KubeObject): Record<string, string> {
  const meta = obj(o['metadata']);
  const { metadata: _m, status: _s, ...rest } = o;
  void _m;
  void _s;
  const annotations = { ...obj(meta['annotations']) };
  delete annotations[LAST_APPLIED];
  const out: Record<string, string> = {
    [isObj(o['spec']) ? 'spec' : 'content']: hash(isObj(o['spec']) ? o['spec'] : rest),
    labels: hash(obj(meta['labels'])),
    annotations: hash(annotations),
  };
  if (o['kind'] === 'Pod')
    out['images'] = hash(
      containersSummary(o)
        .map((c) => `${String(c['name'])}=${String(c['imageDigest'])}`)
        .sort(),
    );
  return out;
}

/** One line naming the parts that differ, or null when none does. */
export function describeModification(before: Record<string, string>, after: Record<string, string>): string | null {
  const parts = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => before[k] !== after[k])
    .sort((a, b) => order(a) - order(b));
  return parts.length === 0 ? null : `${parts.map((p) => PART_LABELS[p] ?? p).join(', ')} changed`;
}

function order(part: string): number {
  const i = Object.keys(PART_LABELS).indexOf(part);
  return i < 0 ? 99 : i;
}

/** What an added object's change row says: its images for workloads, else its kind. */
export function describeAdded(o: KubeObject): string {
  const images = containersSummary(o)
    .map((c) => s(c['image']))
    .filter((i): i is string => i !== null);
  return images.length > 0 ? `added; images ${[...new Set(images)].join(', ')}` : 'added';
}

/** The inventory row of one object. */
export function inventoryRow(o: KubeObject): InventoryObjectInput {
  const ref = objectRef(o);
  const meta = obj(o['metadata']);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(meta['labels']))) if (typeof v === 'string') labels[k] = v;
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    namespace: ref.namespace ?? null,
    name: ref.name,
    uid: ref.uid ?? null,
    resourceVersion: ref.resourceVersion ?? null,
    createdAt: s(meta['creationTimestamp']),
    labels,
    summary: summarize(o),
    fingerprint: fingerprint(o),
    body: gzipSync(JSON.stringify(sanitize(o))).toString('base64'),
  };
}
