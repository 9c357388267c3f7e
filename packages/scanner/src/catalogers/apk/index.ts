/**
 * apk cataloger: Alpine, Wolfi and Chainguard packages from lib/apk/db/installed, apk's text
 * database of "X:value" lines (one letter per field), one blank-line separated stanza per package.
 */
import { buildPurl, type Package } from '@palisade/core';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';
import { locationOf, packageId } from '../location.js';
import { distroQualifier, introducingFiles, packageKey, sortPackages, uniqueIds } from '../../os/packages.js';

const ID = 'apk';
// usr-merged images (Wolfi, recent Alpine) keep it under usr/lib: lib is a symlink there.
const DBS: readonly string[] = ['lib/apk/db/installed', 'usr/lib/apk/db/installed'];

/** Fields of one installed package that the cataloger uses. */
export interface ApkEntry {
  name: string;
  version: string;
  arch?: string;
  origin?: string;
  license?: string;
  maintainer?: string;
  buildTime?: string;
  commit?: string;
  installedSize?: string;
  line: number;
}

// Per-file fields (F folder, R file, a/M acl, Z checksum): the bulk of the database, unused here.
const FILE_FIELDS = new Set(['F', 'R', 'a', 'M', 'Z']);

interface RawStanza {
  fields: Map<string, string>;
  line: number;
  badLine?: number;
}

/** Split the database into stanzas of single-letter fields; never throws. */
function readStanzas(text: string): RawStanza[] {
  const out: RawStanza[] = [];
  let cur: RawStanza | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') {
      if (cur) out.push(cur);
      cur = undefined;
      continue;
    }
    if (!cur) cur = { fields: new Map<string, string>(), line: i + 1 };
    if (line.length < 2 || line[1] !== ':' || line[0] === ' ') {
      cur.badLine ??= i + 1;
      continue;
    }
    const key = line[0] as string;
    if (!FILE_FIELDS.has(key) && !cur.fields.has(key)) cur.fields.set(key, line.slice(2));
  }
  if (cur) out.push(cur);
  return out;
}

function toEntry(s: RawStanza): ApkEntry | string {
  if (s.badLine !== undefined) return `line ${s.badLine}: not an "X:value" line`;
  const name = s.fields.get('P');
  const version = s.fields.get('V');
  if (!name) return `line ${s.line}: package has no P: (name) field`;
  if (!version) return `line ${s.line}: package ${name} has no V: (version) field`;
  if (/\s/.test(name) || /\s/.test(version)) return `line ${s.line}: invalid name or version`;
  const get = (key: string): string | undefined => s.fields.get(key)?.trim() || undefined;
  const e: ApkEntry = { name, version, line: s.line };
  const arch = get('A');
  if (arch) e.arch = arch;
  const origin = get('o');
  if (origin) e.origin = origin;
  const license = get('L');
  if (license) e.license = license;
  const maintainer = get('m');
  if (maintainer) e.maintainer = maintainer;
  const buildTime = get('t');
  if (buildTime) e.buildTime = buildTime;
  const commit = get('c');
  if (commit) e.commit = commit;
  const installedSize = get('I');
  if (installedSize) e.installedSize = installedSize;
  return e;
}

/** Installed packages of an apk database; malformed stanzas go to `problems` ("line N: …"). */
export function parseApkInstalled(text: string): { entries: ApkEntry[]; problems: string[] } {
  const entries: ApkEntry[] = [];
  const problems: string[] = [];
  for (const s of readStanzas(text)) {
    const r = toEntry(s);
    if (typeof r === 'string') problems.push(r);
    else entries.push(r);
  }
  return { entries, problems };
}

/** "MPL-2.0 AND MIT" is one SPDX expression; old "MIT BSD GPL2+" is a list of names. */
export function splitApkLicense(raw: string): string[] {
  if (/\s(AND|OR|WITH)\s|[()]/i.test(raw)) return [raw];
  return [...new Set(raw.split(/\s+/).filter(Boolean))].sort();
}

function toPackage(e: ApkEntry, file: CatalogFile, ctx: CatalogContext): Package {
  const qualifiers: Record<string, string | undefined> = { arch: e.arch, distro: distroQualifier(ctx.os) };
  if (e.origin && e.origin !== e.name) qualifiers['upstream'] = e.origin;
  const purl = buildPurl({
    type: 'apk',
    namespace: ctx.os?.id || 'alpine',
    name: e.name,
    version: e.version,
    qualifiers,
  });
  const locations = [locationOf(file)];
  const pkg: Package = {
    id: packageId({ type: 'apk', name: e.name, version: e.version, locations }),
    name: e.name,
    version: e.version,
    type: 'apk',
    purl,
    locations,
    foundBy: ID,
  };
  if (e.arch) pkg.arch = e.arch;
  // apk builds every subpackage of an origin at the origin's version.
  if (e.origin) pkg.source = { name: e.origin, version: e.version };
  if (e.license) pkg.licenses = splitApkLicense(e.license);
  const metadata: Record<string, string> = {};
  if (e.maintainer) metadata['maintainer'] = e.maintainer;
  if (e.buildTime) metadata['buildTime'] = e.buildTime;
  if (e.commit) metadata['commit'] = e.commit;
  if (e.installedSize) metadata['installedSize'] = e.installedSize;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}

function keysOf(file: CatalogFile): ReadonlySet<string> {
  return new Set(
    parseApkInstalled(file.data.toString('utf8')).entries.map((e) => packageKey(e.name, e.version, e.arch)),
  );
}

/**
 * What extract keeps: every line, but per-file lines shortened to their "X:" key, so the cached
 * form is a fraction of the size while line numbers in warnings still match the real file.
 */
export function reduceApkDb(data: Buffer): Buffer {
  const lines = data.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l.length > 2 && l[1] === ':' && FILE_FIELDS.has(l[0] as string)) lines[i] = l.slice(0, 2);
  }
  return Buffer.from(lines.join('\n'));
}

function catalogDb(top: CatalogFile, ctx: CatalogContext): Package[] {
  try {
    const { entries, problems } = parseApkInstalled(top.data.toString('utf8'));
    for (const p of problems) ctx.warn(`${top.path}: ${p} (package skipped)`);
    const introducedBy = introducingFiles(ctx.files.history(top.path), keysOf);
    return entries.map((e) => toPackage(e, introducedBy(packageKey(e.name, e.version, e.arch)) ?? top, ctx));
  } catch (err) {
    ctx.warn(`${top.path}: cannot read apk database (${err instanceof Error ? err.message : String(err)})`);
    return [];
  }
}

export const cataloger: Cataloger = {
  id: ID,
  version: 1,
  produces: ['apk'],
  wants(file: FileMeta): boolean {
    return file.path === DBS[0] || file.path === DBS[1];
  },
  extract(_file: FileMeta, data: Buffer): Buffer | null {
    return reduceApkDb(data);
  },
  catalog(ctx: CatalogContext): Package[] {
    const out: Package[] = [];
    for (const path of DBS) {
      const top = ctx.files.get(path);
      if (top) out.push(...catalogDb(top, ctx));
    }
    return uniqueIds(sortPackages(out));
  },
};
