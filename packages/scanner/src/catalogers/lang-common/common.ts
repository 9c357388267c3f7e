/**
 * Helpers shared by the language catalogers (npm, python, ruby, php, dotnet, cargo-lock):
 * building packages with ids and purls, reading text and JSON without throwing, sorting.
 */
import { buildPurl, type Package, type PackageType } from '@palisade/core';
import { locationOf, packageId } from '../location.js';
import type { CatalogContext, CatalogFile } from '../types.js';

export interface LangPackageInput {
  type: PackageType;
  /** Name as the ecosystem spells it (reported as Package.name). */
  name: string;
  version: string;
  /** purl namespace and name, when they differ from `name` (npm scope, composer vendor, PyPI normalization). */
  purlNamespace?: string;
  purlName?: string;
  qualifiers?: Record<string, string | undefined>;
  file: CatalogFile;
  foundBy: string;
  licenses?: readonly string[];
  metadata?: Record<string, string | undefined>;
}

/** A Package with its purl, location and stable id. */
export function makePackage(p: LangPackageInput): Package {
  const purl = buildPurl({
    type: p.type,
    namespace: p.purlNamespace,
    name: p.purlName ?? p.name,
    version: p.version,
    qualifiers: p.qualifiers,
  });
  const locations = [locationOf(p.file)];
  const pkg: Package = {
    id: packageId({ type: p.type, name: p.name, version: p.version, locations }),
    name: p.name,
    version: p.version,
    type: p.type,
    purl,
    locations,
    foundBy: p.foundBy,
  };
  const licenses = uniqueStrings(p.licenses ?? []);
  if (licenses.length > 0) pkg.licenses = licenses;
  const metadata = compactRecord(p.metadata);
  if (metadata) pkg.metadata = metadata;
  return pkg;
}

function compactRecord(r: Record<string, string | undefined> | undefined): Record<string, string> | undefined {
  if (!r) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(r)) {
    if (v !== undefined && v !== '') {
      out[k] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

export function uniqueStrings(xs: readonly string[]): string[] {
  const out: string[] = [];
  for (const x of xs) {
    const t = x.trim();
    if (t !== '' && !out.includes(t)) out.push(t);
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sort by (name, version, path) and drop exact repeats (same type, name, version and file):
 * a lockfile may list one package at several tree positions, which is one finding per file.
 */
export function sortAndDedupe(pkgs: readonly Package[]): Package[] {
  const seen = new Set<string>();
  const out: Package[] = [];
  for (const p of pkgs) {
    const key = `${p.type}\u0000${p.purl}\u0000${p.locations[0]?.path ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out.sort(
    (a, b) =>
      cmp(a.name, b.name) ||
      cmp(a.version, b.version) ||
      cmp(a.locations[0]?.path ?? '', b.locations[0]?.path ?? '') ||
      cmp(a.purl, b.purl),
  );
}

/** File content as text: UTF-8 with a leading BOM removed. */
export function textOf(data: Buffer): string {
  const s = data.toString('utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A non-empty trimmed string, or undefined. */
export function str(x: unknown): string | undefined {
  if (typeof x !== 'string') return undefined;
  const t = x.trim();
  return t === '' ? undefined : t;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Parse JSON; on failure warn naming the file and return undefined. An empty file is reported too. */
export function parseJsonFile(file: CatalogFile, ctx: CatalogContext, what: string): unknown {
  const text = textOf(file.data);
  if (text.trim() === '') {
    ctx.warn(`${file.path}: empty ${what}`);
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    ctx.warn(`${file.path}: invalid ${what}: ${errorMessage(err)}`);
    return undefined;
  }
}

/** Last path segment. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Parent directory ('' for a top-level file). */
export function dirName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Run one file's parser, turning an unexpected exception into a warning: a scan never crashes on a file. */
export function guarded(file: CatalogFile, ctx: CatalogContext, what: string, fn: () => Package[]): Package[] {
  try {
    return fn();
  } catch (err) {
    ctx.warn(`${file.path}: cannot read ${what}: ${errorMessage(err)}`);
    return [];
  }
}

/** License strings from the common JSON shapes: "MIT", {type: "MIT"}, ["MIT", {type}], "(MIT OR X)". */
export function licensesFromJson(x: unknown): string[] {
  if (typeof x === 'string') return str(x) ? [x.trim()] : [];
  if (Array.isArray(x)) return x.flatMap((e) => licensesFromJson(e));
  if (isRecord(x)) return licensesFromJson(x['type'] ?? x['name']);
  return [];
}
