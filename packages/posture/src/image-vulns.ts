/**
 * Image vulnerability counts for attack paths, read from a file so offline users get
 * vulnerability-aware paths (`palisade posture scan --image-vulns FILE`). The file is JSON in
 * one of three shapes:
 *
 * - a map from image reference or digest to counts:
 *   `{ "nginx:1.25": { "critical": 3, "high": 5, "kev": 1, "fixable": 6, "epss": 0.42 } }`
 * - a Palisade scan report (`palisade scan -f json IMAGE`), summarized per its image;
 * - an array of scan reports.
 *
 * References are compared as the container runtime resolves them (`nginx` is
 * `docker.io/library/nginx:latest`); digests (`sha256:…`) match whatever tag the pod names.
 */
import { PalisadeError } from '@palisade/core';
import type { ImageVulnLookup, ImageVulnSummary } from './attack-paths.js';
import { arrAt, isObject, objAt, strAt, type JsonObject } from './path.js';

/** `nginx` → `docker.io/library/nginx:latest`; the digest part is dropped. */
export function normalizeImageRef(ref: string): string {
  const at = ref.indexOf('@');
  const name = (at >= 0 ? ref.slice(0, at) : ref).trim();
  const slash = name.lastIndexOf('/');
  const colon = name.indexOf(':', slash + 1);
  let repo = colon >= 0 ? name.slice(0, colon) : name;
  const tag = colon >= 0 ? name.slice(colon + 1) : 'latest';
  const first = repo.split('/')[0] ?? '';
  const hasRegistry = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) repo = `docker.io/${repo.includes('/') ? repo : `library/${repo}`}`;
  repo = repo.replace(/^index\.docker\.io\//, 'docker.io/');
  return `${repo}:${tag}`;
}

function digestPart(ref: string): string | undefined {
  if (/^sha256:[0-9a-f]{64}$/.test(ref)) return ref;
  const at = ref.indexOf('@');
  return at >= 0 ? ref.slice(at + 1) : undefined;
}

/** Counts per image, looked up by digest first, then by normalized reference. */
export class ImageVulnIndex {
  private readonly byDigest = new Map<string, ImageVulnSummary>();
  private readonly byRef = new Map<string, ImageVulnSummary>();

  add(ref: string, summary: ImageVulnSummary): void {
    const digest = digestPart(ref);
    if (digest !== undefined) this.byDigest.set(digest, summary);
    if (!/^sha256:/.test(ref)) this.byRef.set(normalizeImageRef(ref), summary);
  }

  get size(): number {
    return new Set([...this.byDigest.values(), ...this.byRef.values()]).size;
  }

  readonly lookup: ImageVulnLookup = (imageRef, digest) =>
    (digest !== undefined ? this.byDigest.get(digest) : undefined) ?? this.byRef.get(normalizeImageRef(imageRef));
}

/** The file is the error's subject: the CLI prints it before the message. */
function bad(file: string, message: string): PalisadeError {
  return new PalisadeError('E_INPUT', message, { subject: file });
}

function count(file: string, where: string, o: JsonObject, key: string, required: boolean): number | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw bad(file, `${where}.${key} must be a non-negative integer, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function summaryOf(file: string, where: string, v: unknown): ImageVulnSummary {
  if (!isObject(v)) throw bad(file, `${where} must be an object of counts ({critical, high, kev, fixable})`);
  const s: ImageVulnSummary = {
    critical: count(file, where, v, 'critical', true) ?? 0,
    high: count(file, where, v, 'high', true) ?? 0,
    kev: count(file, where, v, 'kev', false) ?? 0,
    fixable: count(file, where, v, 'fixable', false) ?? 0,
  };
  const medium = count(file, where, v, 'medium', false);
  const low = count(file, where, v, 'low', false);
  if (medium !== undefined) s.medium = medium;
  if (low !== undefined) s.low = low;
  if (v.epss !== undefined) {
    if (typeof v.epss !== 'number' || !(v.epss >= 0 && v.epss <= 1))
      throw bad(file, `${where}.epss must be a probability between 0 and 1, got ${JSON.stringify(v.epss)}`);
    s.epss = v.epss;
  }
  return s;
}

/** Summarize one scan report's vulnerabilities (distinct ids; VEX-suppressed ones left out). */
function summarizeReport(file: string, where: string, report: JsonObject): ImageVulnSummary {
  const bySeverity = new Map<string, Set<string>>();
  const kev = new Set<string>();
  const fixable = new Set<string>();
  let epss: number | undefined;
  arrAt(report, 'vulnerabilities').forEach((v, i) => {
    const id = strAt(v, 'id');
    const severity = strAt(v, 'severity');
    if (id === undefined || severity === undefined)
      throw bad(file, `${where}.vulnerabilities[${i}] has no id or severity: not a Palisade scan report`);
    if (isObject(objAt(v, 'suppressed'))) return;
    let set = bySeverity.get(severity);
    if (!set) bySeverity.set(severity, (set = new Set()));
    set.add(id);
    if (isObject(objAt(v, 'kev'))) kev.add(id);
    if (arrAt(v, 'fixedVersions').length > 0 || strAt(v, 'status') === 'fixed') fixable.add(id);
    const score = objAt(v, 'epss')?.score;
    if (typeof score === 'number' && score >= 0 && score <= 1) epss = Math.max(epss ?? 0, score);
  });
  const n = (sev: string): number => bySeverity.get(sev)?.size ?? 0;
  return {
    critical: n('critical'),
    high: n('high'),
    medium: n('medium'),
    low: n('low'),
    kev: kev.size,
    fixable: fixable.size,
    ...(epss !== undefined ? { epss } : {}),
  };
}

function isScanReport(v: unknown): v is JsonObject {
  return isObject(v) && isObject(v.artifact) && Array.isArray(v.vulnerabilities);
}

function addReport(index: ImageVulnIndex, file: string, where: string, report: JsonObject): void {
  const artifact = objAt(report, 'artifact') ?? {};
  const summary = summarizeReport(file, where, report);
  const refs = [
    strAt(artifact, 'name'),
    strAt(artifact, 'digest'),
    ...arrAt(artifact, 'repoTags'),
    ...arrAt(artifact, 'repoDigests'),
  ].filter((r): r is string => typeof r === 'string' && r !== '');
  if (refs.length === 0) throw bad(file, `${where}.artifact names no image (name, digest, repoTags, repoDigests)`);
  for (const r of refs) index.add(r, summary);
}

/** Read an image vulnerability file (see the module comment for its shapes). */
export function parseImageVulns(text: string, file: string): ImageVulnIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const index = new ImageVulnIndex();
  if (Array.isArray(value)) {
    value.forEach((r, i) => {
      if (!isScanReport(r)) throw bad(file, `[${i}] is not a Palisade scan report (no artifact and vulnerabilities)`);
      addReport(index, file, `[${i}]`, r);
    });
    return index;
  }
  if (isScanReport(value)) {
    addReport(index, file, '(report)', value);
    return index;
  }
  if (!isObject(value))
    throw bad(file, 'expected a JSON object mapping image references to counts, or a Palisade scan report');
  for (const key of Object.keys(value).sort()) {
    if (key.trim() === '') throw bad(file, 'an empty image reference as a key');
    index.add(key, summaryOf(file, JSON.stringify(key), value[key]));
  }
  return index;
}
