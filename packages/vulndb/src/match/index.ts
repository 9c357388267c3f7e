/**
 * The in-memory match index: per ecosystem key, package name → affected entries. Ecosystems are
 * loaded lazily (once; `preload()` loads them all in one query) and a name's entries are
 * compiled the first time the name is looked up, so a scan pays only for the names it touches.
 *
 * Compiling a name parses its entries' JSON once, sorts each range's events (as `compileRange`
 * always did) and ranks every event version per comparator (see ranges.ts), so a lookup costs
 * one binary search per comparator and integer comparisons after that.
 */
import type { VulnStatus } from '@palisade/core';
import type { AffectedEntry } from '../model.js';
import type { AffectedRow, DbFile } from '../store/read.js';
import {
  AFFECTED,
  NOT_AFFECTED,
  buildBoundTable,
  compileRange,
  comparedVersion,
  evalRanked,
  positionOf,
  rankRange,
  type BoundTable,
  type Compare,
  type CompiledRange,
  type RankedRange,
} from './ranges.js';

export type SchemeLookup = (ecosystem: string) => Compare | undefined;

type StoredEntry = Omit<AffectedEntry, 'ecosystem' | 'name'>;

/** One affected entry, ready to evaluate; shared by every hit on it (never handed out to callers). */
export interface CompiledEntry {
  readonly advisory: number;
  readonly ranges: readonly RankedRange[];
  readonly versions: ExactVersions | undefined;
  /** The comparator of the entry's own scheme: orders the fixed versions reported. */
  readonly cmp: Compare | undefined;
  readonly unfixedStatus: VulnStatus;
  readonly severity: string | undefined;
  readonly severitySource: string | undefined;
}

/** An entry that says the looked-up version is affected. `record` is filled in by the matcher. */
export interface EntryHit<R = unknown> {
  entry: CompiledEntry;
  /** Fixed versions above the installed one (may be a shared empty array: copy before exposing). */
  fixed: readonly string[];
  status: VulnStatus;
  record: R | undefined;
}

interface CompiledName {
  tables: BoundTable[];
  entries: CompiledEntry[];
}

interface NameSlot {
  rows: AffectedRow[];
  compiled: CompiledName | undefined;
}

/**
 * An entry's exact `versions` list. PyPI entries list every affected release (140,000 strings
 * over the test data): a Set per entry made first matches slow, yet most names are looked up
 * once or twice per process. So a list is scanned until it has been asked a few times, then hashed.
 */
export class ExactVersions {
  private set: Set<string> | undefined;
  private asked = 0;

  constructor(private readonly list: readonly string[]) {}

  has(version: string): boolean {
    if (this.set !== undefined) return this.set.has(version);
    if (++this.asked > 2 && this.list.length > 8) this.set = new Set(this.list);
    return this.list.includes(version);
  }
}

const NO_FIX: readonly string[] = Object.freeze([]);
const NO_RANGES: readonly RankedRange[] = Object.freeze([]);

/** Ranges of one entry before ranking, with the comparator each is read with. */
interface PendingEntry {
  stored: StoredEntry;
  advisory: number;
  cmp: Compare | undefined;
  ranges: Array<{ range: CompiledRange; cmp: Compare }>;
}

function parseEntry(advisory: number, data: string, scheme: (name: string) => Compare | undefined): PendingEntry {
  const stored = JSON.parse(data) as StoredEntry;
  const ecoCmp = scheme(stored.scheme);
  const ranges: PendingEntry['ranges'] = [];
  for (const r of stored.ranges) {
    // SEMVER ranges use SemVer 2.0 order whatever the ecosystem (OSV schema).
    const cmp = r.type === 'SEMVER' ? (scheme('SEMVER') ?? ecoCmp) : ecoCmp;
    if (cmp === undefined) continue;
    try {
      ranges.push({ range: compileRange(r, cmp), cmp });
    } catch {
      // An event version the scheme cannot parse broke the sort: the range cannot be evaluated.
    }
  }
  return { stored, advisory, cmp: ecoCmp, ranges };
}

/** One BoundTable per comparator a name's ranges use, holding every version they compare with. */
function tablesFor(pending: readonly PendingEntry[]): { tables: BoundTable[]; indexOf: Map<Compare, number> } {
  const versionsBy = new Map<Compare, string[]>();
  for (const p of pending) {
    for (const { range, cmp } of p.ranges) {
      let vs = versionsBy.get(cmp);
      if (vs === undefined) versionsBy.set(cmp, (vs = []));
      for (const e of range.events) {
        const v = comparedVersion(e);
        if (v !== undefined) vs.push(v);
      }
    }
  }
  const tables: BoundTable[] = [];
  const indexOf = new Map<Compare, number>();
  for (const [cmp, vs] of versionsBy) {
    indexOf.set(cmp, tables.length);
    tables.push(buildBoundTable(cmp, vs));
  }
  return { tables, indexOf };
}

function compileName(slot: NameSlot, scheme: (name: string) => Compare | undefined): CompiledName {
  const pending = slot.rows.map((r) => parseEntry(r.advisory, r.data, scheme));
  const { tables, indexOf } = tablesFor(pending);
  const entries = pending.map((p): CompiledEntry => {
    const versions =
      p.stored.versions && p.stored.versions.length > 0 ? new ExactVersions(p.stored.versions) : undefined;
    return {
      advisory: p.advisory,
      ranges: p.ranges.map(({ range, cmp }) => {
        const t = indexOf.get(cmp) as number;
        return rankRange(range, t, tables[t] as BoundTable);
      }),
      versions,
      cmp: p.cmp,
      unfixedStatus: p.stored.unfixedStatus ?? 'affected',
      severity: p.stored.severity,
      severitySource: p.stored.severitySource,
    };
  });
  return { tables, entries };
}

/**
 * Does the entry say `version` (at `pos` in each table) is affected? Then the hit, else
 * undefined. Without `pos` (a version with no place in the order) only exact listing counts.
 */
function evaluate<R>(e: CompiledEntry, version: string, pos: Int32Array | undefined): EntryHit<R> | undefined {
  let affected = e.versions !== undefined && e.versions.has(version);
  let fixed: string[] | undefined;
  for (const r of pos === undefined ? NO_RANGES : e.ranges) {
    const res = evalRanked(r, (pos as Int32Array)[r.table] as number);
    if (res === NOT_AFFECTED) continue;
    affected = true;
    if (res === AFFECTED) continue;
    const f = r.fixed[res] as string;
    if (fixed === undefined) fixed = [f];
    else if (!fixed.includes(f)) fixed.push(f);
  }
  if (!affected) return undefined;
  return fixed === undefined
    ? { entry: e, fixed: NO_FIX, status: e.unfixedStatus, record: undefined }
    : { entry: e, fixed, status: 'fixed', record: undefined };
}

export class MatchIndex {
  private readonly byEcosystem = new Map<string, Map<string, NameSlot>>();
  /** Comparators memoised by scheme name: ranges of one name share BoundTables by identity. */
  private readonly comparators = new Map<string, Compare | undefined>();
  private readonly scheme = (name: string): Compare | undefined => {
    if (this.comparators.has(name)) return this.comparators.get(name);
    const cmp = this.schemes(name);
    this.comparators.set(name, cmp);
    return cmp;
  };
  private positions = new Int32Array(4);

  constructor(
    private readonly file: DbFile,
    private readonly schemes: SchemeLookup,
  ) {}

  /** The comparator of an OSV ecosystem / scheme name (memoised). */
  comparator(scheme: string): Compare | undefined {
    return this.scheme(scheme);
  }

  private addRows(rows: Iterable<AffectedRow>, into: (key: string) => Map<string, NameSlot>): void {
    for (const row of rows) {
      const m = into(row.ecosystem);
      const slot = m.get(row.name);
      if (slot) slot.rows.push(row);
      else m.set(row.name, { rows: [row], compiled: undefined });
    }
  }

  private ecosystem(key: string): Map<string, NameSlot> {
    const m = this.byEcosystem.get(key);
    if (m) return m;
    const fresh = new Map<string, NameSlot>();
    this.addRows(this.file.affectedOf(key), () => fresh);
    this.byEcosystem.set(key, fresh);
    return fresh;
  }

  /**
   * Load ecosystems ahead of matching (all of them, in one query, when `keys` is omitted). Names
   * are still compiled on first lookup: compiling every stream up front cost more than the
   * whole first match of the benchmark (most streams of a DB are other distro releases).
   */
  preload(keys?: readonly string[]): void {
    if (keys !== undefined) {
      for (const k of keys) this.ecosystem(k);
      return;
    }
    const fresh = new Map<string, Map<string, NameSlot>>();
    const into = (k: string): Map<string, NameSlot> => {
      let m = fresh.get(k);
      if (m === undefined) fresh.set(k, (m = new Map<string, NameSlot>()));
      return m;
    };
    this.addRows(this.file.affectedAll(), into);
    // Ecosystems already loaded keep their (possibly compiled) slots.
    for (const [k, m] of fresh) if (!this.byEcosystem.has(k)) this.byEcosystem.set(k, m);
  }

  names(key: string): string[] {
    return [...this.ecosystem(key).keys()].sort();
  }

  /**
   * Every entry of `name` under `key` that says `version` is affected, in stored order. With
   * `ordered` false (see known.ts) ranges are not read: only entries listing `version` match.
   */
  lookup<R>(key: string, name: string, version: string, ordered = true): Array<EntryHit<R>> {
    const slot = this.ecosystem(key).get(name);
    if (slot === undefined) return [];
    const c = (slot.compiled ??= compileName(slot, this.scheme));
    let pos: Int32Array | undefined;
    if (ordered) {
      if (this.positions.length < c.tables.length) this.positions = new Int32Array(c.tables.length);
      pos = this.positions;
      for (let t = 0; t < c.tables.length; t++) pos[t] = positionOf(c.tables[t] as BoundTable, version);
    }
    const hits: Array<EntryHit<R>> = [];
    for (const e of c.entries) {
      const hit = evaluate<R>(e, version, pos);
      if (hit !== undefined) hits.push(hit);
    }
    return hits;
  }
}
