/**
 * .NET cataloger: `*.deps.json` (written next to every built .NET application; its `libraries`
 * map lists each NuGet package as "Name/Version" with `type: package`; `project` entries are the
 * application's own assemblies and `referenceassembly` entries framework facades, both skipped)
 * and NuGet's `packages.lock.json` (version 1/2: framework → package → {type, resolved};
 * `Project` entries are project references, skipped).
 */
import type { Package } from '@palisade/core';
import { baseName, guarded, isRecord, makePackage, parseJsonFile, sortAndDedupe, str } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';

export const DOTNET_CATALOGER_ID = 'dotnet';

function nugetPackage(
  file: CatalogFile,
  name: string,
  version: string,
  metadata?: Record<string, string | undefined>,
): Package {
  return makePackage({ type: 'nuget', name, version, file, foundBy: DOTNET_CATALOGER_ID, metadata });
}

function isDepsJson(path: string): boolean {
  return path.endsWith('.deps.json');
}

function isPackagesLock(path: string): boolean {
  return path.endsWith('packages.lock.json') && baseName(path) === 'packages.lock.json';
}

export function catalogDepsJson(file: CatalogFile, ctx: CatalogContext): Package[] {
  const j = parseJsonFile(file, ctx, 'deps.json');
  if (j === undefined) return [];
  if (!isRecord(j) || !isRecord(j['libraries'])) {
    ctx.warn(`${file.path}: deps.json without a "libraries" map`);
    return [];
  }
  const out: Package[] = [];
  for (const [key, lib] of Object.entries(j['libraries'])) {
    if (!isRecord(lib) || lib['type'] !== 'package') continue;
    const slash = key.lastIndexOf('/');
    if (slash <= 0 || slash === key.length - 1) continue;
    out.push(nugetPackage(file, key.slice(0, slash), key.slice(slash + 1)));
  }
  return out;
}

export function catalogPackagesLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const j = parseJsonFile(file, ctx, 'packages.lock.json');
  if (j === undefined) return [];
  if (!isRecord(j)) {
    ctx.warn(`${file.path}: packages.lock.json is not a JSON object`);
    return [];
  }
  if (j['version'] !== 1 && j['version'] !== 2) {
    ctx.warn(`${file.path}: unsupported packages.lock.json version ${JSON.stringify(j['version'] ?? null)}`);
    return [];
  }
  const frameworks = j['dependencies'];
  if (!isRecord(frameworks)) return [];
  const out: Package[] = [];
  for (const deps of Object.values(frameworks)) {
    if (!isRecord(deps)) continue;
    for (const [name, e] of Object.entries(deps)) {
      if (!isRecord(e) || e['type'] === 'Project') continue;
      const version = str(e['resolved']);
      if (version) out.push(nugetPackage(file, name, version, { direct: e['type'] === 'Direct' ? 'true' : undefined }));
    }
  }
  return out;
}

function wants(file: FileMeta): boolean {
  return isDepsJson(file.path) || isPackagesLock(file.path);
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const f of ctx.files.list()) {
    if (isDepsJson(f.path)) out.push(...guarded(f, ctx, 'deps.json', () => catalogDepsJson(f, ctx)));
    else if (isPackagesLock(f.path))
      out.push(...guarded(f, ctx, 'packages.lock.json', () => catalogPackagesLock(f, ctx)));
  }
  return sortAndDedupe(out);
}

export const cataloger: Cataloger = {
  id: DOTNET_CATALOGER_ID,
  version: 1,
  produces: ['nuget'],
  wants,
  catalog,
};
