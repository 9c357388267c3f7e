/**
 * Binary drift: a container executing a file that is not in its image's layers (the
 * kernel reports it as `proc.exeUpperLayer`: the executable lives on the overlay upper
 * layer, written or copied up after the container started). Every drift alerts unless a
 * policy entry allows it; allow entries select by image, namespace and path.
 *
 * Policy file (YAML or JSON):
 *
 *   version: 1
 *   allow:
 *     - name: CI runners build and run their own tools
 *       images: ['registry.example.com/ci/*', docker.io/library/golang]
 *       namespaces: [ci, 'build-*']
 *       paths: ['/workspace/**', /usr/local/bin/]
 *
 * An entry allows a drift when every selector it has matches (images AND namespaces AND
 * paths); a missing selector matches anything, an entry with none is refused (it would
 * allow every drift). Patterns: `*` and `?` are globs (in paths `*` stays inside one path
 * segment and `**` crosses segments); a path ending in `/` is a directory prefix; a literal
 * image matches that repository with any tag or digest (`docker.io/library/golang` matches
 * `docker.io/library/golang:1.22`, not `docker.io/library/golang-evil`); a pattern
 * `sha256:<hex>` matches the image digest.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import {
  PalisadeError,
  stableId,
  type Alert,
  type ContainerContext,
  type KubernetesContext,
  type RuntimeEvent,
} from '@palisade/core';

export interface DriftAllowEntry {
  name: string;
  images: string[];
  namespaces: string[];
  paths: string[];
}

export interface DriftPolicy {
  allow: DriftAllowEntry[];
  /** Where the policy came from (file path or `inline`), for messages. */
  source: string;
}

export interface DriftVerdict {
  /** The exec ran a file that is not in the container's image. */
  drift: boolean;
  /** A policy entry allows it (only meaningful when drift). */
  allowed: boolean;
  reason: string;
  /** Name of the allow entry that matched. */
  entry?: string;
}

/** An exec event as the sensor reports it once the kernel side says where the file lives. */
interface DriftFields {
  exeUpperLayer?: boolean;
}

const MAX_PATTERN = 1024;

function globToRegExp(pattern: string, pathMode: boolean): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*') {
      if (pathMode && pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += pathMode ? '[^/]*' : '.*';
    } else if (ch === '?') re += pathMode ? '[^/]' : '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const isGlob = (p: string): boolean => p.includes('*') || p.includes('?');

export function matchImage(pattern: string, image: string, imageDigest: string): boolean {
  if (pattern.startsWith('sha256:')) return imageDigest !== '' && imageDigest === pattern;
  if (image === '') return false;
  if (isGlob(pattern)) return globToRegExp(pattern, false).test(image);
  if (image === pattern) return true;
  if (!image.startsWith(pattern)) return false;
  // A literal is a repository: only a tag, digest or sub-path may follow it.
  const next = image[pattern.length];
  return next === ':' || next === '@' || next === '/' || pattern.endsWith('/');
}

export function matchNamespace(pattern: string, namespace: string): boolean {
  if (namespace === '') return false;
  return isGlob(pattern) ? globToRegExp(pattern, false).test(namespace) : pattern === namespace;
}

/** Longest executable path the sensor reports whole: its filename buffer is 256 bytes with the NUL. */
export const SENSOR_EXE_PATH_MAX = 254;

/**
 * The executable path as path entries may judge it, or undefined when they cannot vouch for
 * it: a path that is (or may be) cut short — not absolute (a truncated stop record's path
 * starts with `…`), or as long as the sensor's buffer — or that climbs with `..`
 * (`/workspace/../tmp/x` is not under /workspace, and through a symlink `..` is not even
 * lexical). `//` and `.` segments are dropped: they do not change where a path leads.
 * Such executables can only be allowed by entries without paths.
 */
export function judgeablePath(path: string): string | undefined {
  if (!path.startsWith('/') || Buffer.byteLength(path) > SENSOR_EXE_PATH_MAX) return undefined;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return `/${parts.join('/')}`;
}

/**
 * Would the kernel's walk (bpf/enforce.bpf.c build_path) cut this path short? It holds 256
 * bytes, 32 levels and components under 128 bytes; a cut path is flagged and only any-path
 * rules allow it.
 */
export function kernelPathTruncated(path: string): boolean {
  const parts = path.split('/').filter((p) => p !== '');
  return Buffer.byteLength(path) > 256 || parts.length > 32 || parts.some((p) => Buffer.byteLength(p) >= 128);
}

export function matchPath(pattern: string, path: string): boolean {
  if (isGlob(pattern)) return globToRegExp(pattern, true).test(path);
  return pattern.endsWith('/') ? path.startsWith(pattern) : path === pattern;
}

function bad(source: string, where: string, message: string): PalisadeError {
  return new PalisadeError('E_INPUT', `${where}: ${message}`, { subject: source });
}

function stringList(v: unknown, source: string, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(source, where, 'must be a list of strings');
  return v.map((x, i) => {
    if (typeof x !== 'string' || x === '') throw bad(source, `${where}[${i}]`, 'must be a non-empty string');
    if (x.length > MAX_PATTERN) throw bad(source, `${where}[${i}]`, `longer than ${MAX_PATTERN} characters`);
    return x;
  });
}

/** Validates a parsed policy document. */
export function driftPolicyFromObject(doc: unknown, source = 'inline'): DriftPolicy {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw bad(source, 'policy', 'must be a mapping with `version: 1` and `allow:`');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (k !== 'version' && k !== 'allow') throw bad(source, k, 'unknown key (version, allow)');
  if (d['version'] !== 1) throw bad(source, 'version', `must be 1, got ${JSON.stringify(d['version'])}`);
  const allowRaw = d['allow'] ?? [];
  if (!Array.isArray(allowRaw)) throw bad(source, 'allow', 'must be a list of entries');
  const names = new Set<string>();
  const allow = allowRaw.map((e, i): DriftAllowEntry => {
    const where = `allow[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad(source, where, 'must be a mapping');
    const o = e as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!['name', 'images', 'namespaces', 'paths'].includes(k))
        throw bad(source, `${where}.${k}`, 'unknown key (name, images, namespaces, paths)');
    const name = o['name'] === undefined ? `allow[${i}]` : o['name'];
    if (typeof name !== 'string' || name === '') throw bad(source, `${where}.name`, 'must be a non-empty string');
    if (names.has(name)) throw bad(source, `${where}.name`, `duplicate entry name '${name}'`);
    names.add(name);
    const entry: DriftAllowEntry = {
      name,
      images: stringList(o['images'], source, `${where}.images`),
      namespaces: stringList(o['namespaces'], source, `${where}.namespaces`),
      paths: stringList(o['paths'], source, `${where}.paths`),
    };
    entry.paths.forEach((p, j) => {
      if (!p.startsWith('/')) throw bad(source, `${where}.paths[${j}]`, `'${p}' must be an absolute path`);
    });
    if (entry.images.length + entry.namespaces.length + entry.paths.length === 0)
      throw bad(source, where, 'has no images, namespaces or paths: it would allow every drift');
    return entry;
  });
  return { allow, source };
}

/** Parses a policy from YAML (or JSON) text; errors name the file and line. */
export function parseDriftPolicy(text: string, source = 'inline'): DriftPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new PalisadeError('E_INPUT', `line ${pos.line}: ${first.message.split('\n')[0] ?? 'invalid YAML'}`, {
      subject: source,
    });
  }
  return driftPolicyFromObject(doc.toJS() as unknown, source);
}

export function loadDriftPolicy(file: string): DriftPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PalisadeError(
      'E_NOT_FOUND',
      `cannot read drift policy: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        subject: file,
      },
    );
  }
  return parseDriftPolicy(text, file);
}

/** The default: no allow entries, every drift alerts. */
export function emptyDriftPolicy(): DriftPolicy {
  return { allow: [], source: 'default' };
}

/** Does the entry's image/namespace part select this container (paths aside)? */
export function entrySelects(
  entry: DriftAllowEntry,
  container: Pick<ContainerContext, 'image' | 'imageDigest'> | undefined,
  k8s: Pick<KubernetesContext, 'namespace'> | undefined,
): boolean {
  if (entry.images.length > 0) {
    if (!container || !entry.images.some((p) => matchImage(p, container.image, container.imageDigest))) return false;
  }
  if (entry.namespaces.length > 0) {
    if (!k8s || !entry.namespaces.some((p) => matchNamespace(p, k8s.namespace))) return false;
  }
  return true;
}

/** Decides whether an event is drift and whether the policy allows it. */
export function judgeDrift(event: RuntimeEvent, policy: DriftPolicy): DriftVerdict {
  if (event.type !== 'process.exec') return { drift: false, allowed: false, reason: 'not an exec event' };
  if (!event.container) return { drift: false, allowed: false, reason: 'host process' };
  const upper = (event.proc as DriftFields).exeUpperLayer;
  if (upper === undefined)
    return { drift: false, allowed: false, reason: 'the sensor did not report where the executable lives' };
  if (!upper) return { drift: false, allowed: false, reason: 'executable is part of the image' };
  const path = judgeablePath(event.proc.exe);
  for (const e of policy.allow) {
    if (!entrySelects(e, event.container, event.k8s)) continue;
    if (e.paths.length > 0 && (path === undefined || !e.paths.some((p) => matchPath(p, path)))) continue;
    return { drift: true, allowed: true, reason: `allowed by '${e.name}'`, entry: e.name };
  }
  const unresolved = event.container.resolved
    ? ''
    : ' (container not resolved: image and namespace entries cannot match)';
  const unjudgeable = path === undefined ? ' (path truncated or with "..": path entries cannot match)' : '';
  return {
    drift: true,
    allowed: false,
    reason: `executable not in the image and no allow entry matches${unresolved}${unjudgeable}`,
  };
}

export const DRIFT_RULE_ID = 'PAL-DRIFT-001';

/** An alert with the enforcement outcome: `blocked` when the exec was stopped in the kernel. */
export interface DriftAlert extends Alert {
  blocked: boolean;
}

/** The alert for a drift the policy did not allow (`blocked` when enforcement stopped it). */
export function driftAlert(event: RuntimeEvent, verdict: DriftVerdict, blocked: boolean): DriftAlert {
  const proc = 'proc' in event ? event.proc : undefined;
  const fields: Record<string, string> = {
    'proc.exe': proc?.exe ?? '',
    'proc.argv': (proc?.argv ?? []).join(' '),
    'container.id': event.container?.id ?? '',
    'container.name': event.container?.name ?? '',
    'container.image': event.container?.image ?? '',
    'k8s.namespace': event.k8s?.namespace ?? '',
    'k8s.pod': event.k8s?.pod ?? '',
    blocked: String(blocked),
  };
  const where = event.container?.name || event.container?.id.slice(0, 12) || '';
  return {
    id: stableId(DRIFT_RULE_ID, event.id),
    ruleId: DRIFT_RULE_ID,
    severity: 'high',
    title: blocked ? 'Binary drift blocked' : 'Binary drift detected',
    output:
      `${blocked ? 'Blocked execution' : 'Execution'} of a binary not in the image ` +
      `(exe=${fields['proc.exe']} container=${where} image=${fields['container.image'] || '<unresolved>'}` +
      `${event.k8s ? ` ns=${event.k8s.namespace} pod=${event.k8s.pod}` : ''}): ${verdict.reason}`,
    fields,
    mitre: [
      { tactic: 'execution', tacticId: 'TA0002', technique: 'T1059' },
      { tactic: 'persistence', tacticId: 'TA0003', technique: 'T1525' },
    ],
    tags: blocked ? ['container', 'drift', 'blocked'] : ['container', 'drift'],
    events: [event],
    time: event.time,
    blocked,
  };
}

// ---- kernel rules (enforcement) ----

export const KERNEL_MAX_RULES = 64;
export const KERNEL_RULE_PATH_MAX = 127;

export interface KernelRule {
  index: number;
  kind: 'exact' | 'prefix' | 'any';
  path: string;
  /** The policy entry it comes from. */
  entry: string;
  /** True when the entry has no image/namespace selector: applies to every container. */
  global: boolean;
}

/**
 * The policy as the kernel can check it: per entry, one rule per path (or one `any` rule
 * when the entry has no paths). Globs become the literal prefix before their first
 * wildcard (`/workspace/**` → prefix `/workspace/`): the kernel allows slightly more than
 * the policy, never less, so enforcement never blocks what the policy allows; the alert
 * side still applies the exact glob.
 */
export function kernelRules(policy: DriftPolicy): KernelRule[] {
  const out: KernelRule[] = [];
  for (const e of policy.allow) {
    const global = e.images.length === 0 && e.namespaces.length === 0;
    const paths: { kind: KernelRule['kind']; path: string }[] =
      e.paths.length === 0
        ? [{ kind: 'any', path: '' }]
        : e.paths.map((p) => {
            const wild = p.search(/[*?]/);
            if (wild >= 0) return { kind: 'prefix', path: p.slice(0, wild) };
            return { kind: p.endsWith('/') ? 'prefix' : 'exact', path: p };
          });
    for (const p of paths) {
      if (p.path.length > KERNEL_RULE_PATH_MAX)
        throw new PalisadeError(
          'E_INPUT',
          `entry '${e.name}': path '${p.path}' is longer than ${KERNEL_RULE_PATH_MAX} bytes, the enforcement limit`,
          {
            subject: policy.source,
          },
        );
      if (out.length >= KERNEL_MAX_RULES)
        throw new PalisadeError('E_INPUT', `more than ${KERNEL_MAX_RULES} path rules: the enforcement limit`, {
          subject: policy.source,
        });
      out.push({ index: out.length, kind: p.kind, path: p.path, entry: e.name, global });
    }
  }
  return out;
}

/** Bit mask (hex, for the enforcer) of the rules that apply to every container. */
export function globalMask(rules: readonly KernelRule[]): bigint {
  let m = 0n;
  for (const r of rules) if (r.global) m |= 1n << BigInt(r.index);
  return m;
}

/** Bit mask of the scoped rules whose entry selects this container. */
export function containerMask(
  policy: DriftPolicy,
  rules: readonly KernelRule[],
  container: Pick<ContainerContext, 'image' | 'imageDigest'> | undefined,
  k8s: Pick<KubernetesContext, 'namespace'> | undefined,
): bigint {
  const selected = new Set(policy.allow.filter((e) => entrySelects(e, container, k8s)).map((e) => e.name));
  let m = 0n;
  for (const r of rules) if (!r.global && selected.has(r.entry)) m |= 1n << BigInt(r.index);
  return m;
}
