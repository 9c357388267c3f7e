/**
 * npm cataloger: installed packages (node_modules/**\/package.json, global installs included)
 * and lockfiles (package-lock.json, npm-shrinkwrap.json, yarn.lock v1 and berry, pnpm-lock.yaml).
 *
 * Deduplication between a lockfile and installed packages: a lockfile is used only when no
 * installed package exists under the `node_modules/` beside it. When node_modules is there,
 * its package.json files are what the image really ships (a lockfile also lists dev and
 * optional dependencies that `npm ci --omit=dev` or a multi-stage build left out, and may be
 * stale), and they carry licenses; reporting both would count every package twice.
 * Lockfiles inside node_modules (shipped by some published packages) describe that package's
 * own development setup, not what is installed, and are ignored.
 */
import type { Package } from '@palisade/core';
import { baseName, dirName, guarded, sortAndDedupe } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';
import { NPM_CATALOGER_ID } from './common.js';
import { catalogInstalled, isInstalledManifest, reduceManifest } from './installed.js';
import { catalogPackageLock } from './package-lock.js';
import { catalogPnpmLock } from './pnpm.js';
import { catalogYarnLock } from './yarn.js';

type LockParser = (file: CatalogFile, ctx: CatalogContext) => Package[];

const LOCKFILES: ReadonlyMap<string, LockParser> = new Map([
  ['package-lock.json', catalogPackageLock],
  ['npm-shrinkwrap.json', catalogPackageLock],
  ['yarn.lock', catalogYarnLock],
  ['pnpm-lock.yaml', catalogPnpmLock],
]);

function lockParser(path: string): LockParser | undefined {
  // Cheap suffix tests first: this runs for every file of every layer.
  if (!(path.endsWith('.json') || path.endsWith('.lock') || path.endsWith('.yaml'))) return undefined;
  const parser = LOCKFILES.get(baseName(path));
  if (!parser) return undefined;
  return path.startsWith('node_modules/') || path.includes('/node_modules/') ? undefined : parser;
}

function wants(file: FileMeta): boolean {
  return isInstalledManifest(file.path) || lockParser(file.path) !== undefined;
}

function extract(file: FileMeta, data: Buffer): Buffer | null {
  return isInstalledManifest(file.path) ? reduceManifest(data) : data;
}

/** Project directories (the dir holding node_modules/) that have at least one installed package. */
function installedProjects(files: readonly CatalogFile[]): Set<string> {
  const dirs = new Set<string>();
  for (const f of files) {
    if (!isInstalledManifest(f.path)) continue;
    const i = f.path.startsWith('node_modules/') ? 0 : f.path.indexOf('/node_modules/');
    dirs.add(i <= 0 ? '' : f.path.slice(0, i));
  }
  return dirs;
}

function catalog(ctx: CatalogContext): Package[] {
  const files = ctx.files.list();
  const installed = installedProjects(files);
  const out: Package[] = [];
  for (const f of files) {
    if (isInstalledManifest(f.path)) {
      out.push(...guarded(f, ctx, 'package.json', () => catalogInstalled(f, ctx)));
      continue;
    }
    const parser = lockParser(f.path);
    if (!parser || installed.has(dirName(f.path))) continue;
    out.push(...guarded(f, ctx, baseName(f.path), () => parser(f, ctx)));
  }
  return sortAndDedupe(out);
}

export const cataloger: Cataloger = {
  id: NPM_CATALOGER_ID,
  version: 1,
  produces: ['npm'],
  wants,
  extract,
  catalog,
};
