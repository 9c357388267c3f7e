/**
 * Rust binaries built with `cargo auditable`: the crate dependency tree is embedded as
 * zlib-compressed JSON in the `.dep-v0` ELF section (schema: rustsec.org/schemas/cargo-auditable.json,
 * `{"packages":[{"name","version","source","kind"?,"dependencies"?,"root"?}]}`). `extract` keeps a
 * validated, compact list of the crates; `catalog` reports every one of them.
 */
import { inflateSync } from 'node:zlib';
import { buildPurl, type Package } from '@palisade/core';
import { ElfError, findSection, isElf, parseElf, sectionData } from '../elf/index.js';
import { locationOf, packageId } from '../location.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';

const ID = 'rust-audit';
const SECTION = '.dep-v0';
const MIN_SIZE = 1024;
const MAX_SIZE = 512 * 1024 * 1024;
// Real dependency trees are tens of KB; this bounds a zlib bomb in a hostile binary.
const MAX_JSON = 8 * 1024 * 1024;

export interface AuditCrate {
  name: string;
  version: string;
  source: string;
  kind: 'runtime' | 'build';
  root: boolean;
}

/** The kept form: the crates, plus entries that were skipped, or why nothing could be read. */
type Extracted = { crates: AuditCrate[]; skipped: string[] } | { error: string };

function wants(file: FileMeta): boolean {
  return (file.mode & 0o111) !== 0 && file.size >= MIN_SIZE && file.size <= MAX_SIZE;
}

function extract(_file: FileMeta, data: Buffer): Buffer | null {
  if (!isElf(data)) return null;
  const form = readAuditData(data);
  return form === undefined ? null : Buffer.from(JSON.stringify(form));
}

/** The audit data of an ELF binary; undefined when it has none. */
function readAuditData(data: Buffer): Extracted | undefined {
  let compressed: Buffer;
  try {
    const elf = parseElf(data);
    const section = elf === undefined ? undefined : findSection(elf, SECTION);
    if (elf === undefined || section === undefined) return undefined;
    compressed = sectionData(elf, section);
  } catch (err) {
    // A damaged ELF without a readable .dep-v0 is not ours to report.
    if (err instanceof ElfError && !err.message.includes(SECTION)) return undefined;
    return { error: err instanceof Error ? err.message : String(err) };
  }
  return decodeAuditData(compressed);
}

/** Inflate and validate the section content. */
export function decodeAuditData(compressed: Buffer): Extracted {
  let text: string;
  try {
    text = inflateSync(compressed, { maxOutputLength: MAX_JSON }).toString('utf8');
  } catch (err) {
    return { error: `${SECTION}: cannot inflate the zlib data (${(err as Error).message})` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { error: `${SECTION}: invalid JSON (${(err as Error).message})` };
  }
  const list = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)['packages'] : undefined;
  if (!Array.isArray(list)) return { error: `${SECTION}: no "packages" array` };
  const crates: AuditCrate[] = [];
  const skipped: string[] = [];
  list.forEach((entry: unknown, i) => {
    const c = toCrate(entry);
    if (typeof c === 'string') skipped.push(`packages[${i}]: ${c}`);
    else crates.push(c);
  });
  return { crates, skipped };
}

function toCrate(entry: unknown): AuditCrate | string {
  if (typeof entry !== 'object' || entry === null) return 'not an object';
  const o = entry as Record<string, unknown>;
  const { name, version, source, kind, root } = o;
  if (typeof name !== 'string' || name === '') return 'missing "name"';
  if (typeof version !== 'string' || version === '') return `"${name}" has no "version"`;
  if (typeof source !== 'string') return `"${name}" has no "source"`;
  // "kind" may be omitted for runtime dependencies, "root" when false (per the schema).
  if (kind !== undefined && kind !== 'runtime' && kind !== 'build') return `"${name}" has an unknown "kind"`;
  return { name, version, source, kind: kind === 'build' ? 'build' : 'runtime', root: root === true };
}

function decode(file: CatalogFile): Extracted {
  try {
    const v = JSON.parse(file.data.toString('utf8')) as Extracted;
    if ('error' in v && typeof v.error === 'string') return v;
    if ('crates' in v && Array.isArray(v.crates) && Array.isArray(v.skipped)) return v;
  } catch {
    // reported below
  }
  return { error: 'unreadable extracted audit data' };
}

function cratePackage(file: CatalogFile, c: AuditCrate): Package {
  const locations = [locationOf(file)];
  const metadata: Record<string, string> = { source: c.source };
  if (c.kind === 'build') metadata['kind'] = 'build';
  if (c.root) metadata['root'] = 'true';
  return {
    id: packageId({ type: 'cargo', name: c.name, version: c.version, locations }),
    name: c.name,
    version: c.version,
    type: 'cargo',
    purl: buildPurl({ type: 'cargo', name: c.name, version: c.version }),
    locations,
    foundBy: ID,
    metadata,
  };
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const file of ctx.files.list()) {
    const form = decode(file);
    if ('error' in form) {
      ctx.warn(`${file.path}: cargo-auditable data: ${form.error}`);
      continue;
    }
    for (const s of form.skipped) ctx.warn(`${file.path}: cargo-auditable data: skipped ${s}`);
    const seen = new Set<string>();
    for (const c of form.crates) {
      // The same name and version twice (e.g. from two sources) is one package per binary.
      const key = `${c.name}@${c.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(cratePackage(file, c));
    }
  }
  return out.sort((a, b) => cmp(a.locations[0]?.path ?? '', b.locations[0]?.path ?? '') || cmp(a.purl, b.purl));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const cataloger: Cataloger = {
  id: ID,
  version: 1,
  produces: ['cargo'],
  wants,
  extract,
  catalog,
};
