/**
 * Attack paths of a cluster snapshot, ranked with the server's own image scan results.
 *
 * @palisade/posture builds and ranks the paths (exposure → workload → vulnerable image →
 * privilege → node, Secrets or the cluster); what it needs from the server is a synchronous
 * `imageVulnerabilities(imageRef, digest)` callback. That callback is served from one lookup
 * made before the paths are built: every image the snapshot's pod specs name, with the digests
 * the cluster actually runs (pods' `status.containerStatuses[].imageID`, pinned `@sha256:`
 * references), resolved against the stored scan results in a few batched queries.
 *
 * Per image reference: the worst scanned digest the cluster runs under it (a tag can run as two
 * digests mid-rollout or across nodes); else, when none of those digests was scanned, the newest
 * scanned image filed under the same registry, repository and tag (`vulnerabilitySource:
 * reference`: it may be another build of that tag); else nothing is known (posture then ranks
 * the image as unknown, not as clean). Controllers name the same references as their pods, so a
 * Deployment is judged by the digests its pods run.
 */
import { parseReference } from '@palisade/oci';
import {
  attackPathsOfObjects,
  normalizeImageRef,
  type AttackPath,
  type ImageVulnLookup,
  type ImageVulnSummary,
} from '@palisade/posture';
import type { KubeObject } from '@palisade/kube';
import type {
  AttackPathStep,
  ClusterAttackPathInput,
  DigestVulnRecord,
  ImageReferenceKey,
  ImageVulnerabilityIndex,
  Storage,
} from '../storage/index.js';
import { DEFAULT_ATTACK_PATHS_KEPT } from '../storage/index.js';
import { imageDigest, podSpecOf } from './inventory.js';

type Obj = Record<string, unknown>;

/** What the stored scan results say of one image reference of the snapshot. */
export interface ImageVulnInfo {
  record: DigestVulnRecord;
  source: 'digest' | 'reference';
}

export interface SnapshotImageVulns {
  /** For posture's buildAttackPaths: counts by digest (when given and scanned), else by reference. */
  lookup: ImageVulnLookup;
  /** The same answer with the digest it is of and where it came from. */
  describe(imageRef: string, digest?: string): ImageVulnInfo | undefined;
  /** Distinct images named, digests run and digests found scanned (for logs and tests). */
  stats: { images: number; digests: number; scanned: number };
}

interface ImageUse {
  /** Registry, repository and tag, when the reference has a tag (the fallback key). */
  reference: ImageReferenceKey | null;
  /** Digests the cluster runs under this reference (and the pinned one). */
  digests: Set<string>;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function referenceOf(image: string): ImageReferenceKey | null {
  try {
    const p = parseReference(image);
    const tag = p.tag ?? (p.digest === undefined ? 'latest' : undefined);
    return tag === undefined ? null : { registry: p.domain, repository: p.repository, tag };
  } catch {
    // Not a reference a registry would take: it can only be matched by a running digest.
    return null;
  }
}

/** Every image reference the snapshot's pod specs name, with the digests running under it. */
export function imagesOfSnapshot(objects: Iterable<KubeObject>): Map<string, ImageUse> {
  const uses = new Map<string, ImageUse>();
  const use = (image: string): ImageUse => {
    const key = normalizeImageRef(image);
    let u = uses.get(key);
    if (!u) uses.set(key, (u = { reference: referenceOf(image), digests: new Set() }));
    return u;
  };
  for (const o of objects) {
    const spec = podSpecOf(o);
    if (spec === null) continue;
    const running = new Map<string, string>();
    if (o['kind'] === 'Pod') {
      const status = isObj(o['status']) ? o['status'] : {};
      for (const list of ['initContainerStatuses', 'containerStatuses', 'ephemeralContainerStatuses'])
        for (const st of arr(status[list])) {
          const digest = imageDigest(typeof st['imageID'] === 'string' ? st['imageID'] : null);
          if (typeof st['name'] === 'string' && digest !== null) running.set(st['name'], digest);
        }
    }
    for (const list of ['initContainers', 'containers', 'ephemeralContainers'])
      for (const c of arr(spec[list])) {
        const image = c['image'];
        if (typeof image !== 'string' || image === '') continue;
        const u = use(image);
        const pinned = imageDigest(image);
        if (pinned !== null) u.digests.add(pinned);
        const ran = typeof c['name'] === 'string' ? running.get(c['name']) : undefined;
        if (ran !== undefined) u.digests.add(ran);
      }
  }
  return uses;
}

/** Worst first (KEV, critical, high, fixable, EPSS, as posture picks a workload's image), then by digest. */
function worse(a: DigestVulnRecord, b: DigestVulnRecord): number {
  const ka = [a.kev, a.critical, a.high, a.fixable, a.epss ?? 0];
  const kb = [b.kev, b.critical, b.high, b.fixable, b.epss ?? 0];
  for (let i = 0; i < ka.length; i++) if ((ka[i] ?? 0) !== (kb[i] ?? 0)) return (kb[i] ?? 0) - (ka[i] ?? 0);
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

function summaryOf(r: DigestVulnRecord): ImageVulnSummary {
  return {
    critical: r.critical,
    high: r.high,
    medium: r.medium,
    low: r.low,
    kev: r.kev,
    fixable: r.fixable,
    ...(r.epss !== undefined ? { epss: r.epss } : {}),
  };
}

/** Decide, per image reference, which stored result stands for it (see the module comment). */
export function resolveImageVulns(uses: Map<string, ImageUse>, index: ImageVulnerabilityIndex): SnapshotImageVulns {
  const byRef = new Map<string, ImageVulnInfo>();
  let digests = 0;
  for (const [key, u] of uses) {
    digests += u.digests.size;
    const scanned = [...u.digests]
      .map((d) => index.byDigest.get(d))
      .filter((r): r is DigestVulnRecord => r !== undefined)
      .sort(worse);
    if (scanned[0]) {
      byRef.set(key, { record: scanned[0], source: 'digest' });
      continue;
    }
    const fallback = u.reference
      ? index.byReference.get(`${u.reference.registry}/${u.reference.repository}:${u.reference.tag}`)
      : undefined;
    const record = fallback !== undefined ? index.byDigest.get(fallback) : undefined;
    if (record) byRef.set(key, { record, source: 'reference' });
  }
  const describe = (imageRef: string, digest?: string): ImageVulnInfo | undefined => {
    const pinned = digest ?? imageDigest(imageRef) ?? undefined;
    const direct = pinned !== undefined ? index.byDigest.get(pinned) : undefined;
    if (direct) return { record: direct, source: 'digest' };
    return byRef.get(normalizeImageRef(imageRef));
  };
  return {
    describe,
    lookup: (imageRef, digest) => {
      const info = describe(imageRef, digest);
      return info ? summaryOf(info.record) : undefined;
    },
    stats: { images: uses.size, digests, scanned: index.byDigest.size },
  };
}

/** Read the stored scan results for the snapshot's images: a few batched queries, never one per container. */
export async function snapshotImageVulns(
  storage: Storage,
  objects: readonly KubeObject[],
): Promise<SnapshotImageVulns> {
  const uses = imagesOfSnapshot(objects);
  const index = await storage.clusters.imageVulnerabilities({
    digests: [...uses.values()].flatMap((u) => [...u.digests]),
    references: [...uses.values()].flatMap((u) => (u.reference ? [u.reference] : [])),
  });
  return resolveImageVulns(uses, index);
}

/** The snapshot's ranked attack paths, as stored and served. */
export function attackPathsOfSnapshot(
  objects: readonly KubeObject[],
  vulns: SnapshotImageVulns,
  maxPaths = DEFAULT_ATTACK_PATHS_KEPT,
): ClusterAttackPathInput[] {
  return attackPathsOfObjects(objects, { imageVulnerabilities: vulns.lookup, maxPaths }).map((p) =>
    storedPath(p, vulns),
  );
}

/** `Service ns/name (…)`, `Ingress ns/name → …`, `Gateway a, b → HTTPRoute ns/name → …`, or on the node. */
function entryObject(route: string): { objectKind: string | null; name: string | null; namespace: string | null } {
  const direct = /^(Service|Ingress) ([^/\s]+)\/(\S+)/.exec(route);
  if (direct) return { objectKind: direct[1] ?? null, namespace: direct[2] ?? null, name: direct[3] ?? null };
  const gateway = /^Gateway (.+?) → \S+ ([^/\s]+)\/\S+/.exec(route);
  if (gateway) return { objectKind: 'Gateway', name: gateway[1] ?? null, namespace: gateway[2] ?? null };
  return { objectKind: null, name: null, namespace: null };
}

function targetStep(p: AttackPath): Pick<AttackPathStep, 'name' | 'namespace' | 'objectKind'> {
  const t = p.target;
  switch (t.kind) {
    case 'namespace':
      return { name: t.name, namespace: t.name, objectKind: 'Namespace' };
    case 'secrets':
      return { name: t.name, namespace: t.name === '*' ? null : t.name, objectKind: 'Secret' };
    case 'node':
      return { name: t.name, namespace: null, objectKind: 'Node' };
    case 'workload':
      return { name: p.workload.name, namespace: p.workload.namespace ?? null, objectKind: p.workload.kind };
    default:
      return { name: t.name, namespace: null, objectKind: null };
  }
}

/** Posture's path with each step's name, namespace and kind, and the image step's digest and worst ids. */
export function storedPath(p: AttackPath, vulns: SnapshotImageVulns): ClusterAttackPathInput {
  const ns = p.workload.namespace ?? null;
  const steps = p.steps.map((s): AttackPathStep => {
    const base = {
      kind: s.kind,
      id: s.id,
      label: s.label,
      mitre: s.edge?.mitre ?? [],
      ...(s.edge ? { edge: { relation: s.edge.relation, mitre: s.edge.mitre } } : {}),
    };
    switch (s.kind) {
      case 'entry': {
        const e = entryObject(s.id.replace(/^entry:/, ''));
        return { ...base, name: e.name ?? s.label, namespace: e.namespace, objectKind: e.objectKind };
      }
      case 'workload':
        return { ...base, name: p.workload.name, namespace: ns, objectKind: p.workload.kind };
      case 'image': {
        const info = vulns.describe(s.label);
        const v = s.vulnerabilities;
        return {
          ...base,
          name: s.label,
          namespace: null,
          objectKind: null,
          ...(v
            ? {
                vulnerabilities: {
                  critical: v.critical,
                  high: v.high,
                  medium: v.medium ?? 0,
                  low: v.low ?? 0,
                  kev: v.kev,
                  fixable: v.fixable,
                  ...(v.epss !== undefined ? { epss: v.epss } : {}),
                },
              }
            : {}),
          ...(info
            ? { digest: info.record.digest, vulnerabilitySource: info.source, vulnerabilityIds: info.record.top }
            : {}),
        };
      }
      case 'privilege':
        return { ...base, name: s.label, namespace: ns, objectKind: null };
      default:
        return { ...base, ...targetStep(p) };
    }
  });
  return {
    id: p.id,
    rank: p.rank,
    score: p.score,
    severity: p.severity,
    explanation: p.explanation,
    factors: p.factors,
    workload: { namespace: ns, apiVersion: p.workload.apiVersion, kind: p.workload.kind, name: p.workload.name },
    target: p.target,
    mitre: p.mitre,
    steps,
  };
}
