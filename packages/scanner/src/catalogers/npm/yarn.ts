/**
 * yarn.lock: the classic v1 format (yarn's own indentation format, not YAML) and yarn berry
 * (v2+, YAML with a `__metadata` block and `resolution` fields).
 */
import type { Package } from '@palisade/core';
import { parse as parseYaml } from 'yaml';
import { errorMessage, isRecord, str, textOf } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile } from '../types.js';
import { isNpmName, npmPackage, splitNameAt } from './common.js';

// Local or derived sources: the project's own workspaces, directories, links, and patched copies
// (yarn berry keeps the unpatched npm: entry too, so a patch: entry would only duplicate it).
const LOCAL_PROTOCOLS = ['workspace:', 'patch:', 'link:', 'portal:', 'file:', 'exec:'];

function isLocal(rangeOrRef: string): boolean {
  return LOCAL_PROTOCOLS.some((p) => rangeOrRef.startsWith(p));
}

export function catalogYarnLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const text = textOf(file.data);
  if (text.trim() === '') {
    ctx.warn(`${file.path}: empty yarn.lock`);
    return [];
  }
  return /^__metadata:/m.test(text) ? fromBerry(text, file, ctx) : fromClassic(text, file, ctx);
}

// ---- yarn berry ------------------------------------------------------------------------------

function fromBerry(text: string, file: CatalogFile, ctx: CatalogContext): Package[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: false });
  } catch (err) {
    ctx.warn(`${file.path}: invalid yarn.lock (berry YAML): ${errorMessage(err)}`);
    return [];
  }
  if (!isRecord(doc)) {
    ctx.warn(`${file.path}: yarn.lock is not a YAML mapping`);
    return [];
  }
  const out: Package[] = [];
  for (const [key, e] of Object.entries(doc)) {
    if (key === '__metadata' || !isRecord(e)) continue;
    const resolution = str(e['resolution']);
    const version = str(e['version']) ?? (typeof e['version'] === 'number' ? String(e['version']) : undefined);
    const split = resolution ? splitNameAt(resolution) : undefined;
    if (!split || !version || isLocal(split.rest) || e['linkType'] === 'soft') continue;
    if (version === '0.0.0-use.local' || !isNpmName(split.name)) continue;
    out.push(
      npmPackage({
        name: split.name,
        version,
        file,
        metadata: { resolved: split.rest.startsWith('npm:') ? undefined : split.rest },
      }),
    );
  }
  return out;
}

// ---- yarn v1 ---------------------------------------------------------------------------------

interface ClassicEntry {
  specs: string[];
  line: number;
  fields: Map<string, string>;
}

/** Split a header like `"a@^1", a@~1.2:` into its unquoted specs. */
function headerSpecs(header: string): string[] {
  return header
    .slice(0, -1)
    .split(',')
    .map((s) => unquote(s.trim()))
    .filter((s) => s !== '');
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** `key value` or `"key" "value"` at entry level; returns undefined for a nested block header. */
function fieldOf(line: string): [string, string] | undefined {
  const t = line.trim();
  if (t.endsWith(':')) return undefined;
  const m = /^("(?:[^"\\]|\\.)*"|[^\s"]+)\s+(.*)$/.exec(t);
  if (!m) return undefined;
  return [unquote(m[1] ?? ''), unquote((m[2] ?? '').trim())];
}

function parseClassic(text: string, file: CatalogFile, ctx: CatalogContext): ClassicEntry[] | undefined {
  const entries: ClassicEntry[] = [];
  let current: ClassicEntry | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (!line.startsWith(' ')) {
      if (!line.endsWith(':')) {
        ctx.warn(`${file.path}: invalid yarn.lock: line ${i + 1} is not an entry header`);
        return undefined;
      }
      current = { specs: headerSpecs(line), line: i + 1, fields: new Map() };
      entries.push(current);
      continue;
    }
    if (!current) {
      ctx.warn(`${file.path}: invalid yarn.lock: indented line ${i + 1} outside an entry`);
      return undefined;
    }
    // Only the entry's own fields (two-space indent); nested dependency blocks are skipped.
    if (line.startsWith('  ') && !line.startsWith('   ')) {
      const f = fieldOf(line);
      if (f) current.fields.set(f[0], f[1]);
    }
  }
  return entries;
}

/** The real package name of a spec: `alias@npm:real@^1` → real; `name@^1` → name. */
function nameOfSpec(spec: string): { name: string; local: boolean } | undefined {
  const split = splitNameAt(spec);
  if (!split) return undefined;
  if (split.rest.startsWith('npm:')) {
    const inner = splitNameAt(split.rest.slice(4));
    return { name: inner ? inner.name : split.name, local: false };
  }
  return { name: split.name, local: isLocal(split.rest) };
}

function fromClassic(text: string, file: CatalogFile, ctx: CatalogContext): Package[] {
  const entries = parseClassic(text, file, ctx);
  if (!entries) return [];
  const out: Package[] = [];
  for (const e of entries) {
    const names = e.specs.map(nameOfSpec);
    const first = names[0];
    const version = e.fields.get('version');
    // An entry resolved from a local directory (file:, link:) is the project's own code.
    if (!first || !version || names.some((n) => n?.local === true) || !isNpmName(first.name)) continue;
    const resolved = e.fields.get('resolved');
    out.push(
      npmPackage({
        name: first.name,
        version,
        file,
        metadata: {
          resolved:
            resolved && !/^https:\/\/registry\.(yarnpkg|npmjs)\.(com|org)\//.test(resolved) ? resolved : undefined,
        },
      }),
    );
  }
  return out;
}
