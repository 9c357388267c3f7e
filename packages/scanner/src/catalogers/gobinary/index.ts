/**
 * Go binaries: the modules compiled into an executable, read from the build info the Go linker
 * embeds (`go version -m` shows the same). `extract` keeps only the Go version and the module
 * info text (a few KB) of each Go executable; `catalog` turns them into packages: one per
 * dependency module, the main module, and `stdlib` at the toolchain version.
 */
import { buildPurl, type Package } from '@palisade/core';
import { locationOf, packageId } from '../location.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';
import { readGoBuildInfo } from './buildinfo.js';
import {
  goToolchainSemver,
  mainVersionFromSettings,
  parseModInfo,
  setting,
  type GoModInfo,
  type GoModule,
} from './modinfo.js';

const ID = 'gobinary';
const MIN_SIZE = 1024;
const MAX_SIZE = 512 * 1024 * 1024;
/** The version Go records for a main module built from a source tree (not `go install m@v`). */
export const DEVEL = '(devel)';

/** What `extract` keeps of a Go executable. */
type Extracted = { goVersion: string; modinfo: string; warning?: string } | { error: string };

function wants(file: FileMeta): boolean {
  return (file.mode & 0o111) !== 0 && file.size >= MIN_SIZE && file.size <= MAX_SIZE;
}

function extract(_file: FileMeta, data: Buffer): Buffer | null {
  const r = readGoBuildInfo(data);
  if (r.kind === 'none') return null;
  const form: Extracted =
    r.kind === 'ok' ? { ...r.info, ...(r.warning === undefined ? {} : { warning: r.warning }) } : { error: r.message };
  return Buffer.from(JSON.stringify(form));
}

function decode(file: CatalogFile): Extracted {
  try {
    const v: unknown = JSON.parse(file.data.toString('utf8'));
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (typeof o['error'] === 'string') return { error: o['error'] };
      if (typeof o['goVersion'] === 'string' && typeof o['modinfo'] === 'string') {
        const form: Extracted = { goVersion: o['goVersion'], modinfo: o['modinfo'] };
        if (typeof o['warning'] === 'string') form.warning = o['warning'];
        return form;
      }
    }
  } catch {
    // fall through: a kept form we cannot read is reported like a damaged binary
  }
  return { error: 'unreadable extracted Go build info' };
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const file of ctx.files.list()) {
    const form = decode(file);
    if ('error' in form) {
      ctx.warn(`${file.path}: Go binary: ${form.error}`);
      continue;
    }
    if (form.warning !== undefined) ctx.warn(`${file.path}: Go binary: ${form.warning}`);
    const info = parseModInfo(form.modinfo);
    for (const line of info.bad) ctx.warn(`${file.path}: Go build info: cannot parse line ${JSON.stringify(line)}`);
    out.push(...binaryPackages(file, form.goVersion, info));
  }
  return out.sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** All packages of one Go executable. */
export function binaryPackages(file: CatalogFile, goVersion: string, info: GoModInfo): Package[] {
  const common: Record<string, string> = { goVersion };
  const mainPath = info.main?.path ?? info.path;
  if (mainPath !== undefined && mainPath !== '') common['mainModule'] = mainPath;
  const arch = setting(info, 'GOARCH');
  const out: Package[] = [];
  const std = stdlibPackage(file, goVersion, common);
  if (std !== undefined) out.push(std);
  if (info.main !== undefined && info.main.path !== '') out.push(mainPackage(file, info, common));
  for (const dep of info.deps) {
    // Old toolchains sometimes listed the main module as a dep with an empty path: skip it.
    if (dep.path === '') continue;
    out.push(depPackage(file, dep, common));
  }
  if (arch !== undefined) for (const p of out) p.arch = arch;
  return out;
}

function stdlibPackage(file: CatalogFile, goVersion: string, common: Record<string, string>): Package | undefined {
  const version = goToolchainSemver(goVersion);
  if (version === undefined) return undefined;
  const experiment = /\bX:(\S+)/.exec(goVersion)?.[1];
  const meta = { ...common };
  if (experiment !== undefined) meta['goExperiment'] = experiment;
  return makePackage(file, 'stdlib', version, meta);
}

function mainPackage(file: CatalogFile, info: GoModInfo, common: Record<string, string>): Package {
  const main = info.main as GoModule;
  const meta: Record<string, string> = { ...common, main: 'true' };
  for (const [k, v] of info.settings) {
    if (
      ['GOOS', 'GOARCH', 'GOAMD64', 'GOARM', 'CGO_ENABLED', '-ldflags', '-tags', '-buildmode', '-trimpath'].includes(
        k,
      ) ||
      k.startsWith('vcs')
    ) {
      meta[`build.${k}`] = v;
    }
  }
  let version = main.version === '' ? DEVEL : main.version;
  if (main.sum !== undefined) meta['h1Digest'] = main.sum;
  if (version === DEVEL) {
    const derived = mainVersionFromSettings(info);
    if (derived !== undefined) {
      version = derived.version;
      meta['versionSource'] = derived.source;
    }
  }
  return makePackage(file, main.path, version, meta);
}

/** A local directory replacement ("=> ../lib") names no module; a module replacement does. */
function isLocalPath(p: string): boolean {
  return (
    p.startsWith('./') ||
    p.startsWith('../') ||
    p.startsWith('/') ||
    p === '.' ||
    p === '..' ||
    /^[A-Za-z]:[\\/]/.test(p)
  );
}

function depPackage(file: CatalogFile, dep: GoModule, common: Record<string, string>): Package {
  const meta = { ...common };
  const r = dep.replace;
  if (r === undefined) {
    if (dep.sum !== undefined) meta['h1Digest'] = dep.sum;
    return makePackage(file, dep.path, dep.version, meta);
  }
  if (isLocalPath(r.path)) {
    // The code came from a directory: keep the module's identity, but its version is unknown.
    meta['replacedBy'] = r.path;
    meta['originalVersion'] = dep.version;
    return makePackage(file, dep.path, r.version === '' ? DEVEL : r.version, meta);
  }
  // Like Syft and Trivy: the replacement is what was compiled in, so it is what gets matched.
  meta['originalPath'] = dep.path;
  meta['originalVersion'] = dep.version;
  if (r.sum !== undefined) meta['h1Digest'] = r.sum;
  return makePackage(file, r.path, r.version === '' ? DEVEL : r.version, meta);
}

function makePackage(file: CatalogFile, path: string, version: string, metadata: Record<string, string>): Package {
  const slash = path.lastIndexOf('/');
  const purl = buildPurl({
    type: 'golang',
    namespace: slash > 0 ? path.slice(0, slash) : undefined,
    name: path.slice(slash + 1),
    // "(devel)" is not a version; a purl without one says "unknown" honestly.
    version: version === DEVEL ? undefined : version,
  });
  const locations = [locationOf(file)];
  return {
    id: packageId({ type: 'golang', name: path, version, locations }),
    name: path,
    version,
    type: 'golang',
    purl,
    locations,
    foundBy: ID,
    metadata,
  };
}

export const cataloger: Cataloger = {
  id: ID,
  version: 1,
  produces: ['golang'],
  wants,
  extract,
  catalog,
};
