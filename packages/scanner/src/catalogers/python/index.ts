/**
 * Python cataloger: installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`,
 * single-file `*.egg-info`, in site-packages, dist-packages or anywhere else) and lockfiles
 * (requirements*.txt, Pipfile.lock, poetry.lock, pdm.lock, uv.lock, pylock.toml / pylock.*.toml).
 *
 * Installed distributions and lockfiles are both reported, each at its own location: unlike
 * node_modules, site-packages is not beside the project's lockfile, so nothing ties a lockfile
 * to one environment; the report's locations tell the two apart.
 */
import type { Package } from '@palisade/core';
import { baseName, guarded, sortAndDedupe } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';
import { PYTHON_CATALOGER_ID } from './common.js';
import { catalogPdmLock, catalogPipfileLock, catalogPoetryLock, catalogPylock, catalogUvLock } from './lockfiles.js';
import { catalogMetadata, isInstalledMetadata, reduceMetadata } from './metadata.js';
import { catalogRequirements } from './requirements.js';

type Parser = (file: CatalogFile, ctx: CatalogContext) => Package[];

const LOCKFILES: ReadonlyMap<string, Parser> = new Map([
  ['Pipfile.lock', catalogPipfileLock],
  ['poetry.lock', catalogPoetryLock],
  ['pdm.lock', catalogPdmLock],
  ['uv.lock', catalogUvLock],
  ['pylock.toml', catalogPylock],
]);

const requirementsParser: Parser = (f) => catalogRequirements(f);

function isRequirements(path: string, base: string): boolean {
  if (!base.endsWith('.txt')) return false;
  return base.startsWith('requirements') || path.includes('/requirements/') || path.startsWith('requirements/');
}

/** The parser for a path, or undefined. Suffix checks first: this runs for every file. */
export function parserFor(path: string): Parser | undefined {
  if (isInstalledMetadata(path)) return catalogMetadata;
  if (!(path.endsWith('.txt') || path.endsWith('.lock') || path.endsWith('.toml'))) return undefined;
  const base = baseName(path);
  if (isRequirements(path, base)) return requirementsParser;
  const parser = LOCKFILES.get(base);
  if (parser) return parser;
  // PEP 751 named lockfiles: pylock.<name>.toml
  return base.startsWith('pylock.') && base.endsWith('.toml') ? catalogPylock : undefined;
}

function wants(file: FileMeta): boolean {
  return parserFor(file.path) !== undefined;
}

function extract(file: FileMeta, data: Buffer): Buffer | null {
  return isInstalledMetadata(file.path) ? reduceMetadata(data) : data;
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const f of ctx.files.list()) {
    const parser = parserFor(f.path);
    if (parser) out.push(...guarded(f, ctx, baseName(f.path), () => parser(f, ctx)));
  }
  return sortAndDedupe(out);
}

export const cataloger: Cataloger = {
  id: PYTHON_CATALOGER_ID,
  version: 1,
  produces: ['pypi'],
  wants,
  extract,
  catalog,
};
