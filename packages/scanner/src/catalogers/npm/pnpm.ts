/**
 * pnpm-lock.yaml: lockfileVersion 5.x (`/name/1.0.0_peer+x@1`), 6.x (`/name@1.0.0(peer@1)`) and
 * 9.x (`name@1.0.0(peer@1)`, no leading slash, dev flags moved to importers). Keys of the
 * `packages` map name the package; entries from git/tarball/directory sources carry explicit
 * `name`/`version` fields, which win over the key.
 */
import type { Package } from '@palisade/core';
import { parse as parseYaml } from 'yaml';
import { errorMessage, isRecord, str, textOf } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile } from '../types.js';
import { isNpmName, isSemver, npmPackage } from './common.js';

interface NameVersion {
  name: string;
  version: string;
}

export function catalogPnpmLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  let doc: unknown;
  try {
    doc = parseYaml(textOf(file.data));
  } catch (err) {
    ctx.warn(`${file.path}: invalid pnpm-lock.yaml: ${errorMessage(err)}`);
    return [];
  }
  if (!isRecord(doc)) {
    ctx.warn(`${file.path}: pnpm-lock.yaml is not a YAML mapping`);
    return [];
  }
  const major = lockfileMajor(doc['lockfileVersion']);
  if (major === undefined || major < 5 || major > 9) {
    ctx.warn(`${file.path}: unsupported pnpm lockfileVersion ${JSON.stringify(doc['lockfileVersion'] ?? null)}`);
    return [];
  }
  const packages = doc['packages'];
  if (!isRecord(packages)) return [];
  const out: Package[] = [];
  for (const [key, e] of Object.entries(packages)) {
    const entry = isRecord(e) ? e : {};
    const nv = nameVersion(key, entry, major);
    // Directory sources (file:../x) are the project's own code, not a dependency from a registry.
    if (!nv || key.startsWith('file:') || !isNpmName(nv.name)) continue;
    out.push(
      npmPackage({
        ...nv,
        file,
        metadata: {
          dev: entry['dev'] === true ? 'true' : undefined,
          optional: entry['optional'] === true ? 'true' : undefined,
        },
      }),
    );
  }
  return out;
}

function lockfileMajor(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number.parseFloat(v) : NaN;
  return Number.isFinite(n) ? Math.floor(n) : undefined;
}

/** Explicit fields first (tarball, git and directory entries), then the key. */
function nameVersion(key: string, e: Record<string, unknown>, major: number): NameVersion | undefined {
  const fromKey = parseKey(key, major);
  const name = str(e['name']) ?? fromKey?.name ?? atForm(key)?.name;
  const version = str(e['version']) ?? fromKey?.version;
  return name && version ? { name, version } : undefined;
}

/** Parse a `packages` key; v6+ keys use name@version, v5 keys name/version (some v5 files mix both). */
export function parsePnpmKey(key: string, major: number): NameVersion | undefined {
  return parseKey(key, major);
}

function parseKey(key: string, major: number): NameVersion | undefined {
  const at = atForm(key);
  const slash = slashForm(key);
  const ordered = major >= 6 ? [at, slash] : [slash, at];
  return ordered.find((nv): nv is NameVersion => nv !== undefined && isSemver(nv.version));
}

/** Drop the peer suffix: "(react@18.2.0)" in v6+, "_react@18.2.0" / "_hash" in v5. */
function stripPeers(version: string): string {
  const paren = version.indexOf('(');
  const v = paren >= 0 ? version.slice(0, paren) : version;
  const us = v.indexOf('_');
  return us >= 0 ? v.slice(0, us) : v;
}

/** "/@scope/name@1.0.0(peer@1)" or "name@1.0.0". */
function atForm(key: string): NameVersion | undefined {
  const k = key.startsWith('/') ? key.slice(1) : key;
  const paren = k.indexOf('(');
  const base = paren >= 0 ? k.slice(0, paren) : k;
  const at = base.indexOf('@', base.startsWith('@') ? 1 : 0);
  if (at <= 0) return undefined;
  return { name: base.slice(0, at), version: stripPeers(base.slice(at + 1)) };
}

/** "/name/1.0.0_peer", "/@scope/name/1.0.0", or host-prefixed "registry.npmjs.org/name/1.0.0". */
function slashForm(key: string): NameVersion | undefined {
  let parts = key.split('/');
  if (key.startsWith('/')) parts = parts.slice(1);
  else if (parts.length > 2 && parts[0]?.includes('.') && !parts[0].startsWith('@')) parts = parts.slice(1);
  const version = parts.pop();
  if (version === undefined || parts.length === 0) return undefined;
  const name = parts.join('/');
  return { name, version: stripPeers(version) };
}
