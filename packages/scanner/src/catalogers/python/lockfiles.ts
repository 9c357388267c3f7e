/**
 * Python lockfiles: Pipfile.lock (JSON), poetry.lock, pdm.lock, uv.lock and pylock.toml (TOML).
 * Entries that are the project itself or its local sources (uv `virtual`/`editable`/`directory`,
 * poetry `directory`, pylock `directory`) are skipped; git sources are kept when the lockfile
 * names their version.
 */
import type { Package } from '@palisade/core';
import { errorMessage, isRecord, parseJsonFile, str, textOf } from '../lang-common/common.js';
import { parseToml, tomlString, tomlTables, type TomlTable, type TomlValue } from '../lang-common/toml.js';
import type { CatalogContext, CatalogFile } from '../types.js';
import { isPyName, pyPackage } from './common.js';

function readToml(file: CatalogFile, ctx: CatalogContext, what: string): TomlTable | undefined {
  const text = textOf(file.data);
  if (text.trim() === '') {
    ctx.warn(`${file.path}: empty ${what}`);
    return undefined;
  }
  try {
    return parseToml(text);
  } catch (err) {
    ctx.warn(`${file.path}: invalid ${what}: ${errorMessage(err)}`);
    return undefined;
  }
}

function push(
  out: Package[],
  file: CatalogFile,
  name: string | undefined,
  version: string | undefined,
  metadata?: Record<string, string | undefined>,
): void {
  if (!name || !version || !isPyName(name)) return;
  out.push(pyPackage({ name, version, file, metadata }));
}

function sourceType(v: TomlValue | undefined): string | undefined {
  if (typeof v === 'string') return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  for (const k of ['registry', 'git', 'virtual', 'editable', 'directory', 'path', 'url']) if (k in v) return k;
  return tomlString(v['type']);
}

// ---- Pipfile.lock ----

export function catalogPipfileLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const j = parseJsonFile(file, ctx, 'Pipfile.lock');
  if (j === undefined) return [];
  if (!isRecord(j) || (!isRecord(j['default']) && !isRecord(j['develop']))) {
    ctx.warn(`${file.path}: Pipfile.lock has no "default" or "develop" section`);
    return [];
  }
  const out: Package[] = [];
  for (const [section, dev] of [
    ['default', undefined],
    ['develop', 'true'],
  ] as const) {
    const deps = j[section];
    if (!isRecord(deps)) continue;
    for (const [name, e] of Object.entries(deps)) {
      // Only "==x" is a resolved version; git/path entries have none.
      const v = isRecord(e) ? str(e['version']) : undefined;
      if (v?.startsWith('==')) push(out, file, name, v.replace(/^=+/, ''), { dev });
    }
  }
  return out;
}

// ---- poetry.lock ----

export function catalogPoetryLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const doc = readToml(file, ctx, 'poetry.lock');
  if (!doc) return [];
  const out: Package[] = [];
  for (const p of tomlTables(doc['package'])) {
    const src = p['source'];
    const type = typeof src === 'object' && !Array.isArray(src) ? tomlString(src['type']) : undefined;
    if (type === 'directory') continue;
    push(out, file, tomlString(p['name']), tomlString(p['version']), {
      dev: tomlString(p['category']) === 'dev' ? 'true' : undefined,
      source: type === 'git' || type === 'url' || type === 'file' ? type : undefined,
    });
  }
  return out;
}

// ---- pdm.lock ----

export function catalogPdmLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const doc = readToml(file, ctx, 'pdm.lock');
  if (!doc) return [];
  const out: Package[] = [];
  for (const p of tomlTables(doc['package'])) {
    const groups = Array.isArray(p['groups']) ? p['groups'].filter((g): g is string => typeof g === 'string') : [];
    push(out, file, tomlString(p['name']), tomlString(p['version']), {
      // Packages only in non-default groups are development (or optional-group) dependencies.
      dev: groups.length > 0 && !groups.includes('default') ? 'true' : undefined,
      groups: groups.length > 0 ? groups.join(',') : undefined,
      source: tomlString(p['git']) ? 'git' : undefined,
    });
  }
  return out;
}

// ---- uv.lock ----

const UV_LOCAL = new Set(['virtual', 'editable', 'directory', 'path']);

export function catalogUvLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const doc = readToml(file, ctx, 'uv.lock');
  if (!doc) return [];
  const version = doc['version'];
  if (typeof version === 'number' && version !== 1) {
    ctx.warn(`${file.path}: unsupported uv.lock version ${version}`);
    return [];
  }
  const out: Package[] = [];
  for (const p of tomlTables(doc['package'])) {
    const type = sourceType(p['source']);
    if (type !== undefined && UV_LOCAL.has(type)) continue;
    push(out, file, tomlString(p['name']), tomlString(p['version']), {
      source: type === 'git' || type === 'url' ? type : undefined,
    });
  }
  return out;
}

// ---- pylock.toml (PEP 751) ----

export function catalogPylock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const doc = readToml(file, ctx, 'pylock.toml');
  if (!doc) return [];
  const lockVersion = tomlString(doc['lock-version']);
  if (!lockVersion || !lockVersion.startsWith('1.')) {
    ctx.warn(`${file.path}: unsupported pylock lock-version ${JSON.stringify(lockVersion ?? null)}`);
    return [];
  }
  const out: Package[] = [];
  for (const p of tomlTables(doc['packages'])) {
    // A `directory` package is a local source tree (usually the project itself).
    if (p['directory'] !== undefined) continue;
    push(out, file, tomlString(p['name']), tomlString(p['version']), {
      source: p['vcs'] !== undefined ? 'vcs' : p['archive'] !== undefined ? 'archive' : undefined,
    });
  }
  return out;
}
