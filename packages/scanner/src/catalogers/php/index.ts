/**
 * PHP cataloger: composer.lock (`packages`, and `packages-dev` marked dev: "true") and
 * vendor/composer/installed.json (Composer 1: a JSON array; Composer 2: `{packages: [...],
 * dev-package-names: [...]}`). purl: pkg:composer/<vendor>/<name>@<version>.
 *
 * Both files are reported when present: installed.json is what `vendor/` holds, composer.lock
 * what the project pinned; they sit in different places and the locations tell them apart.
 */
import type { Package } from '@palisade/core';
import {
  baseName,
  guarded,
  isRecord,
  licensesFromJson,
  makePackage,
  parseJsonFile,
  sortAndDedupe,
  str,
} from '../lang-common/common.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';

export const PHP_CATALOGER_ID = 'php';

function isComposerLock(path: string): boolean {
  return path.endsWith('composer.lock') && baseName(path) === 'composer.lock';
}

function isInstalledJson(path: string): boolean {
  return path.endsWith('vendor/composer/installed.json');
}

function composerPackage(file: CatalogFile, e: unknown, dev: boolean): Package | undefined {
  if (!isRecord(e)) return undefined;
  const name = str(e['name']);
  const version = str(e['version']);
  const slash = name ? name.indexOf('/') : -1;
  if (!name || !version || slash <= 0 || slash === name.length - 1) return undefined;
  return makePackage({
    type: 'composer',
    name,
    version,
    purlNamespace: name.slice(0, slash),
    purlName: name.slice(slash + 1),
    file,
    foundBy: PHP_CATALOGER_ID,
    licenses: licensesFromJson(e['license']),
    metadata: { dev: dev ? 'true' : undefined },
  });
}

export function catalogComposerLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const j = parseJsonFile(file, ctx, 'composer.lock');
  if (j === undefined) return [];
  if (!isRecord(j) || (!Array.isArray(j['packages']) && !Array.isArray(j['packages-dev']))) {
    ctx.warn(`${file.path}: composer.lock has no "packages" list`);
    return [];
  }
  const out: Package[] = [];
  for (const [key, dev] of [
    ['packages', false],
    ['packages-dev', true],
  ] as const) {
    const list = j[key];
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      const p = composerPackage(file, e, dev);
      if (p) out.push(p);
    }
  }
  return out;
}

export function catalogInstalledJson(file: CatalogFile, ctx: CatalogContext): Package[] {
  const j = parseJsonFile(file, ctx, 'installed.json');
  if (j === undefined) return [];
  // Composer 1 wrote a bare array; Composer 2 an object with the dev package names listed apart.
  const list = Array.isArray(j) ? j : isRecord(j) && Array.isArray(j['packages']) ? j['packages'] : undefined;
  if (!list) {
    ctx.warn(`${file.path}: installed.json is neither a package array nor {packages: [...]}`);
    return [];
  }
  const devNames = new Set(
    isRecord(j) && Array.isArray(j['dev-package-names'])
      ? j['dev-package-names'].filter((x): x is string => typeof x === 'string')
      : [],
  );
  const out: Package[] = [];
  for (const e of list) {
    const name = isRecord(e) ? str(e['name']) : undefined;
    const p = composerPackage(file, e, name !== undefined && devNames.has(name));
    if (p) out.push(p);
  }
  return out;
}

function wants(file: FileMeta): boolean {
  return isComposerLock(file.path) || isInstalledJson(file.path);
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const f of ctx.files.list()) {
    if (isComposerLock(f.path)) out.push(...guarded(f, ctx, 'composer.lock', () => catalogComposerLock(f, ctx)));
    else if (isInstalledJson(f.path))
      out.push(...guarded(f, ctx, 'installed.json', () => catalogInstalledJson(f, ctx)));
  }
  return sortAndDedupe(out);
}

export const cataloger: Cataloger = {
  id: PHP_CATALOGER_ID,
  version: 1,
  produces: ['composer'],
  wants,
  catalog,
};
