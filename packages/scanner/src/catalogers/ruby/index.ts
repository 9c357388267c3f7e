/**
 * Ruby cataloger: installed gems from RubyGems' `specifications/*.gemspec` (including
 * `specifications/default/` — default gems ship with Ruby and are real, separately versioned
 * gems) and Bundler's Gemfile.lock / gems.locked.
 *
 * Installed gemspecs are Ruby source written by RubyGems (`s.name = "x".freeze`); they are read
 * as text, never evaluated. Gemfile.lock `PATH` gems are the project's own local sources and are
 * skipped; `GIT` gems are kept with `source: git`.
 */
import type { Package } from '@palisade/core';
import { baseName, guarded, makePackage, sortAndDedupe, textOf } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';

export const RUBY_CATALOGER_ID = 'ruby';

function gemPackage(
  file: CatalogFile,
  name: string,
  version: string,
  licenses?: string[],
  metadata?: Record<string, string | undefined>,
): Package {
  return makePackage({
    type: 'gem',
    name,
    version,
    qualifiers: { platform: metadata?.['platform'] },
    file,
    foundBy: RUBY_CATALOGER_ID,
    licenses,
    metadata,
  });
}

export function isGemspec(path: string): boolean {
  if (!path.endsWith('.gemspec')) return false;
  const dir = path.slice(0, path.lastIndexOf('/') + 1);
  return dir.endsWith('specifications/') || dir.endsWith('specifications/default/');
}

export function isGemfileLock(path: string): boolean {
  const base = baseName(path);
  if (base !== 'Gemfile.lock' && base !== 'gems.locked') return false;
  // A lockfile inside an installed gem (…/gems/<name>-<version>/…) is that gem's own development
  // setup, not what the image runs: reporting it would invent packages (and vulnerabilities).
  return !INSIDE_INSTALLED_GEM.test(path);
}

const INSIDE_INSTALLED_GEM = /(^|\/)gems\/[^/]+-\d[^/]*\//;

// ---- gemspec ----

// `s.name = "rake".freeze`, `spec.version = "1.0"`; strings may be '…' or "…"; %q<…> is rare.
const ASSIGN = /^\s*\w+\.(name|version|licenses?|platform)\s*=\s*(.+?)\s*$/;
const STRING_LIT = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g;

function strings(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(STRING_LIT)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

export function catalogGemspec(file: CatalogFile, ctx: CatalogContext): Package[] {
  const fields = new Map<string, string[]>();
  for (const line of textOf(file.data).split(/\r?\n/)) {
    const m = ASSIGN.exec(line);
    // The first assignment wins: generated gemspecs assign each field once at the top.
    if (m?.[1] && m[2] && !fields.has(m[1])) fields.set(m[1], strings(m[2]));
  }
  const name = fields.get('name')?.[0];
  const version = fields.get('version')?.[0];
  if (!name || !version) {
    ctx.warn(`${file.path}: gemspec without a literal ${name ? 'version' : 'name'}`);
    return [];
  }
  const licenses = [...(fields.get('licenses') ?? []), ...(fields.get('license') ?? [])];
  const platform = fields.get('platform')?.[0];
  return [gemPackage(file, name, version, licenses, { platform: platform === 'ruby' ? undefined : platform })];
}

// ---- Gemfile.lock ----

const SPEC_LINE = /^ {4}([^\s(]+) \(([^)]+)\)$/;

/** "1.13.3-x86_64-linux" → version and platform (gem versions themselves never contain '-'). */
function splitPlatform(v: string): { version: string; platform?: string } {
  const dash = v.indexOf('-');
  return dash < 0 ? { version: v } : { version: v.slice(0, dash), platform: v.slice(dash + 1) };
}

export function catalogGemfileLock(file: CatalogFile, ctx: CatalogContext): Package[] {
  const text = textOf(file.data);
  if (text.trim() === '') {
    ctx.warn(`${file.path}: empty Gemfile.lock`);
    return [];
  }
  const out: Package[] = [];
  let section = '';
  let inSpecs = false;
  let sawSection = false;
  for (const line of text.split(/\r?\n/)) {
    if (line !== '' && !line.startsWith(' ')) {
      section = line.trim();
      sawSection = true;
      inSpecs = false;
      continue;
    }
    if (line === '  specs:') {
      inSpecs = true;
      continue;
    }
    if (!inSpecs || section === 'PATH') continue;
    const m = SPEC_LINE.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const { version, platform } = splitPlatform(m[2]);
    out.push(gemPackage(file, m[1], version, undefined, { platform, source: section === 'GIT' ? 'git' : undefined }));
  }
  if (!sawSection) ctx.warn(`${file.path}: not a Gemfile.lock (no sections)`);
  return out;
}

function wants(file: FileMeta): boolean {
  return isGemspec(file.path) || isGemfileLock(file.path);
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const f of ctx.files.list()) {
    if (isGemspec(f.path)) out.push(...guarded(f, ctx, 'gemspec', () => catalogGemspec(f, ctx)));
    else if (isGemfileLock(f.path)) out.push(...guarded(f, ctx, 'Gemfile.lock', () => catalogGemfileLock(f, ctx)));
  }
  return sortAndDedupe(out);
}

export const cataloger: Cataloger = {
  id: RUBY_CATALOGER_ID,
  version: 1,
  produces: ['gem'],
  wants,
  catalog,
};
