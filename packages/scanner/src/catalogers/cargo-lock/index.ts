/**
 * Cargo.lock cataloger (lockfile format v1 — no `version` key, checksums in `[metadata]` —,
 * v2, v3 and v4): one package per `[[package]]` table.
 *
 * Packages without a `source` are the workspace's own crates (the root package and path
 * dependencies). They are skipped, as Trivy does: they are the project being scanned, not a
 * dependency, and a local crate sharing a name with a crates.io crate would otherwise match that
 * crate's advisories. Git sources are kept and marked `source: git`.
 */
import type { Package } from '@palisade/core';
import { errorMessage, guarded, makePackage, sortAndDedupe, textOf } from '../lang-common/common.js';
import { parseToml, tomlString, tomlTables } from '../lang-common/toml.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';

export const CARGO_LOCK_CATALOGER_ID = 'cargo-lock';

function isCargoLock(path: string): boolean {
  return path === 'Cargo.lock' || path.endsWith('/Cargo.lock');
}

export function catalogCargoLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const text = textOf(file.data);
  if (text.trim() === '') {
    ctx.warn(`${file.path}: empty Cargo.lock`);
    return [];
  }
  let doc;
  try {
    doc = parseToml(text);
  } catch (err) {
    ctx.warn(`${file.path}: invalid Cargo.lock: ${errorMessage(err)}`);
    return [];
  }
  const version = doc['version'];
  if (version !== undefined && (typeof version !== 'number' || version < 1 || version > 4)) {
    ctx.warn(`${file.path}: unsupported Cargo.lock version ${JSON.stringify(version)}`);
    return [];
  }
  const out: Package[] = [];
  for (const p of tomlTables(doc['package'])) {
    const name = tomlString(p['name']);
    const ver = tomlString(p['version']);
    const source = tomlString(p['source']);
    if (!name || !ver || !source) continue;
    out.push(
      makePackage({
        type: 'cargo',
        name,
        version: ver,
        file,
        foundBy: CARGO_LOCK_CATALOGER_ID,
        metadata: {
          source: source.startsWith('git+')
            ? 'git'
            : source.startsWith('registry+') && !source.includes('crates.io-index')
              ? source
              : undefined,
        },
      }),
    );
  }
  return out;
}

function wants(file: FileMeta): boolean {
  return isCargoLock(file.path);
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const f of ctx.files.list()) {
    if (isCargoLock(f.path)) out.push(...guarded(f, ctx, 'Cargo.lock', () => catalogCargoLock(f, ctx)));
  }
  return sortAndDedupe(out);
}

export const cataloger: Cataloger = {
  id: CARGO_LOCK_CATALOGER_ID,
  version: 1,
  produces: ['cargo'],
  wants,
  catalog,
};
