/**
 * The in-memory match index: per ecosystem key (loaded lazily, once), package name → affected
 * entries; each entry's ranges are compiled (events sorted with the cached scheme) on first use.
 */
import type { VulnStatus } from '@palisade/core';
import type { AffectedEntry } from '../model.js';
import type { DbFile } from '../store/read.js';
import { compileRange, evalRange, type Compare, type CompiledRange } from './ranges.js';

export type SchemeLookup = (ecosystem: string) => Compare | undefined;

type StoredEntry = Omit<AffectedEntry, 'ecosystem' | 'name'>;

interface IndexedEntry {
  advisory: number;
  raw: string;
  compiled?: { entry: StoredEntry; ranges: CompiledRange[]; versions: Set<string> | undefined; cmp: Compare | undefined };
}

export interface EntryHit {
  advisory: number;
  fixed: string[];
  status: VulnStatus;
  severity?: string;
  severitySource?: string;
  cmp: Compare | undefined;
}

function compile(e: IndexedEntry, schemes: SchemeLookup): NonNullable<IndexedEntry['compiled']> {
  const entry = JSON.parse(e.raw) as StoredEntry;
  const ecoCmp = schemes(entry.scheme);
  const ranges: CompiledRange[] = [];
  for (const r of entry.ranges) {
    // SEMVER ranges use SemVer 2.0 order whatever the ecosystem (OSV schema).
    const cmp = r.type === 'SEMVER' ? (schemes('SEMVER') ?? ecoCmp) : ecoCmp;
    if (cmp === undefined) continue;
    try {
      ranges.push(compileRange(r, cmp));
    } catch {
      // An event version the scheme cannot parse: the range cannot be evaluated, so it is dropped.
    }
  }
  const versions = entry.versions && entry.versions.length > 0 ? new Set(entry.versions) : undefined;
  return { entry, ranges, versions, cmp: ecoCmp };
}

function safeEval(r: CompiledRange, v: string): ReturnType<typeof evalRange> {
  try {
    return evalRange(r, v);
  } catch {
    return { affected: false };
  }
}

export class MatchIndex {
  private readonly byEcosystem = new Map<string, Map<string, IndexedEntry[]>>();

  constructor(
    private readonly file: DbFile,
    private readonly schemes: SchemeLookup,
  ) {}

  private ecosystem(key: string): Map<string, IndexedEntry[]> {
    let m = this.byEcosystem.get(key);
    if (m) return m;
    m = new Map();
    for (const row of this.file.affectedOf(key)) {
      const list = m.get(row.name);
      const item: IndexedEntry = { advisory: row.advisory, raw: row.data };
      if (list) list.push(item);
      else m.set(row.name, [item]);
    }
    this.byEcosystem.set(key, m);
    return m;
  }

  /** Load ecosystems ahead of matching (all of them when `keys` is omitted). */
  preload(keys: readonly string[] = this.file.ecosystems()): void {
    for (const k of keys) this.ecosystem(k);
  }

  names(key: string): string[] {
    return [...this.ecosystem(key).keys()].sort();
  }

  /** Every entry of `name` under `key` that says `version` is affected. */
  lookup(key: string, name: string, version: string): EntryHit[] {
    const list = this.ecosystem(key).get(name);
    if (!list) return [];
    const hits: EntryHit[] = [];
    for (const item of list) {
      item.compiled ??= compile(item, this.schemes);
      const hit = evaluate(item.compiled, version);
      if (hit) hits.push({ ...hit, advisory: item.advisory });
    }
    return hits;
  }
}

function evaluate(c: NonNullable<IndexedEntry['compiled']>, version: string): Omit<EntryHit, 'advisory'> | undefined {
  let affected = c.versions?.has(version) ?? false;
  const fixed: string[] = [];
  for (const r of c.ranges) {
    const res = safeEval(r, version);
    if (!res.affected) continue;
    affected = true;
    if (res.fixed !== undefined && !fixed.includes(res.fixed)) fixed.push(res.fixed);
  }
  if (!affected) return undefined;
  const out: Omit<EntryHit, 'advisory'> = {
    fixed,
    status: fixed.length > 0 ? 'fixed' : (c.entry.unfixedStatus ?? 'affected'),
    cmp: c.cmp,
  };
  if (c.entry.severity !== undefined) out.severity = c.entry.severity;
  if (c.entry.severitySource !== undefined) out.severitySource = c.entry.severitySource;
  return out;
}
