/**
 * package-lock.json / npm-shrinkwrap.json: lockfileVersion 1 (nested `dependencies` tree) and
 * 2/3 (flat `packages` map keyed by install path; v2 also carries the v1 tree, which is ignored).
 */
import type { Package } from '@palisade/core';
import { isRecord, parseJsonFile, str } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile } from '../types.js';
import { isNpmName, npmPackage } from './common.js';

const NM = 'node_modules/';

export function catalogPackageLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const j = parseJsonFile(file, ctx, 'package-lock.json');
  if (j === undefined) return [];
  if (!isRecord(j)) {
    ctx.warn(`${file.path}: package-lock.json is not a JSON object`);
    return [];
  }
  const v = j['lockfileVersion'];
  if (v === 2 || v === 3) {
    if (isRecord(j['packages'])) return fromPackagesMap(j['packages'], file);
    // Some v2 files (written by tools imitating npm) carry only the v1-style tree.
    if (isRecord(j['dependencies'])) return fromDependencyTree(j['dependencies'], file, []);
    ctx.warn(`${file.path}: lockfileVersion ${v} without a "packages" map`);
    return [];
  }
  if (v === 1) return fromDependencyTree(j['dependencies'], file, []);
  ctx.warn(`${file.path}: unsupported package-lock lockfileVersion ${JSON.stringify(v ?? null)}`);
  return [];
}

function flags(e: Record<string, unknown>): Record<string, string | undefined> {
  const resolved = str(e['resolved']);
  return {
    dev: e['dev'] === true ? 'true' : undefined,
    optional: e['optional'] === true ? 'true' : undefined,
    devOptional: e['devOptional'] === true ? 'true' : undefined,
    // Only non-registry origins are worth keeping (git commits, tarball URLs off the registry).
    resolved: resolved && !resolved.startsWith('https://registry.') ? resolved : undefined,
  };
}

/** v2/v3: keys are install paths; the package name is what follows the last node_modules/. */
function fromPackagesMap(packages: Record<string, unknown>, file: CatalogFile): Package[] {
  const out: Package[] = [];
  for (const [key, e] of Object.entries(packages)) {
    if (!isRecord(e)) continue;
    const at = key.lastIndexOf(NM);
    // "" is the root project; keys without node_modules/ are workspace or file: sources of the
    // project itself, and `link` entries point at those: neither is an installed dependency.
    if (at < 0 || (at > 0 && key[at - 1] !== '/') || e['link'] === true) continue;
    const name = str(e['name']) ?? key.slice(at + NM.length);
    const version = str(e['version']);
    if (!version || !isNpmName(name)) continue;
    out.push(npmPackage({ name, version, file, licenses: licenseList(e['license']), metadata: flags(e) }));
  }
  return out;
}

function licenseList(x: unknown): string[] | undefined {
  const s = str(x);
  return s ? [s] : undefined;
}

/**
 * v1: a tree of `dependencies`. Versions are either a semver, an alias "npm:<name>@<version>",
 * or a non-registry spec (git URL, github:, file:, tarball URL) that carries no package version;
 * those are skipped because nothing in the lockfile says which version they are.
 */
function fromDependencyTree(deps: unknown, file: CatalogFile, out: Package[], depth = 0): Package[] {
  if (!isRecord(deps) || depth > 200) return out;
  for (const [key, e] of Object.entries(deps)) {
    if (!isRecord(e)) continue;
    const resolvedName = resolveV1(key, str(e['version']));
    if (resolvedName) out.push(npmPackage({ ...resolvedName, file, metadata: flags(e) }));
    fromDependencyTree(e['dependencies'], file, out, depth + 1);
  }
  return out;
}

function resolveV1(key: string, version: string | undefined): { name: string; version: string } | undefined {
  if (!version) return undefined;
  if (version.startsWith('npm:')) {
    const split = splitAlias(version.slice(4));
    return split && isNpmName(split.name) ? split : undefined;
  }
  if (version.includes(':') || version.includes('/')) return undefined;
  return isNpmName(key) ? { name: key, version } : undefined;
}

function splitAlias(spec: string): { name: string; version: string } | undefined {
  const at = spec.lastIndexOf('@');
  if (at <= 0) return undefined;
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}
