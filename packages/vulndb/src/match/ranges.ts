/**
 * OSV range evaluation, as the OSV schema specifies it: events sorted by version ("0" first), then
 * walked: `introduced` at or below the version opens the range, `fixed` at or below closes it,
 * `last_affected` below closes it, `limit` at or below ends it. Plus exact `versions` membership.
 */
import type { RangeEvent, VersionRange } from '../model.js';

export type Compare = (a: string, b: string) => number;

function eventVersion(e: RangeEvent): string {
  return e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '';
}

/** A range with its events sorted once, ready to evaluate. */
export interface CompiledRange {
  events: RangeEvent[];
  cmp: Compare;
}

/** Sort events; throws when an event version does not parse in the scheme (the caller drops the range). */
export function compileRange(range: VersionRange, cmp: Compare): CompiledRange {
  const events = [...range.events].sort((a, b) => {
    const va = eventVersion(a);
    const vb = eventVersion(b);
    if (a.introduced === '0') return b.introduced === '0' ? 0 : -1;
    if (b.introduced === '0') return 1;
    return cmp(va, vb);
  });
  return { events, cmp };
}

export interface RangeResult {
  affected: boolean;
  /** The first `fixed` above the version, when affected and the range has one. */
  fixed?: string;
}

/** Evaluate one compiled range for `v`. Throws when `v` does not parse (caller treats as no match). */
export function evalRange(r: CompiledRange, v: string): RangeResult {
  let affected = false;
  let i = 0;
  for (; i < r.events.length; i++) {
    const e = r.events[i];
    if (e === undefined) break;
    if (e.introduced !== undefined) {
      if (e.introduced !== '0' && r.cmp(v, e.introduced) < 0) break; // sorted: nothing later applies
      affected = true;
    } else if (e.fixed !== undefined) {
      if (r.cmp(v, e.fixed) < 0) break;
      affected = false;
    } else if (e.last_affected !== undefined) {
      if (r.cmp(v, e.last_affected) <= 0) break;
      affected = false;
    } else if (e.limit !== undefined) {
      if (r.cmp(v, e.limit) < 0) break;
      return { affected: false };
    }
  }
  if (!affected) return { affected };
  for (; i < r.events.length; i++) {
    const e = r.events[i];
    if (e?.fixed !== undefined) return { affected, fixed: e.fixed };
    if (e?.introduced !== undefined || e?.last_affected !== undefined || e?.limit !== undefined) break;
  }
  return { affected };
}

/*
 * Ranked evaluation. Matching compares one installed version against every event of every entry
 * of a package name: hundreds of scheme comparisons for a name like Go's `stdlib`. Instead, the
 * distinct event versions of a name are sorted once per comparator (a BoundTable); each event
 * keeps its rank, and an installed version is placed among them with one binary search. Events
 * are then compared as integers, with exactly the outcome `evalRange` gives (same sorted events,
 * same "a version that does not parse makes the range not match" rule).
 */

/** What `evalRanked` returns when the range does not match. */
export const NOT_AFFECTED = -2;
/** What `evalRanked` returns when the range matches and names no fix after the version. */
export const AFFECTED = -1;

/** Event kinds, in the precedence `evalRange` reads an event's fields. */
const KIND_NONE = 0;
const KIND_INTRODUCED_ZERO = 1;
const KIND_INTRODUCED = 2;
const KIND_FIXED = 3;
const KIND_LAST_AFFECTED = 4;
const KIND_LIMIT = 5;

/** Rank of an event whose version the comparator rejects: comparing against it throws. */
const UNPARSABLE = -1;

/** The sorted distinct event versions of one package name under one comparator. */
export interface BoundTable {
  readonly cmp: Compare;
  /** Distinct versions (by `cmp`), ascending. */
  readonly bounds: readonly string[];
  /** Version string → rank 2k+1 of its bound k (every spelling that compares equal shares it). */
  readonly rankOf: ReadonlyMap<string, number>;
}

/** A compiled range whose event comparisons are integer rank comparisons. */
export interface RankedRange {
  /** Index of the range's BoundTable in the name's table list. */
  readonly table: number;
  // Plain arrays of small integers: as fast to read as typed arrays, much cheaper to allocate.
  readonly kinds: readonly number[];
  /** Per event: 2k+1 for bound k, UNPARSABLE when the version does not parse, 0 when unused. */
  readonly ranks: readonly number[];
  /** Per event: its `fixed` version, which `evalRange` reports after the version is found affected. */
  readonly fixed: ReadonlyArray<string | undefined>;
}

function kindOf(e: RangeEvent): number {
  if (e.introduced !== undefined) return e.introduced === '0' ? KIND_INTRODUCED_ZERO : KIND_INTRODUCED;
  if (e.fixed !== undefined) return KIND_FIXED;
  if (e.last_affected !== undefined) return KIND_LAST_AFFECTED;
  if (e.limit !== undefined) return KIND_LIMIT;
  return KIND_NONE;
}

/** The version an event is compared with (`undefined` for events evalRange never compares). */
export function comparedVersion(e: RangeEvent): string | undefined {
  const k = kindOf(e);
  if (k === KIND_NONE || k === KIND_INTRODUCED_ZERO) return undefined;
  return eventVersion(e);
}

function parses(cmp: Compare, v: string): boolean {
  try {
    cmp(v, v);
    return true;
  } catch {
    return false;
  }
}

function sortParsable(cmp: Compare, versions: string[]): string[] {
  try {
    return versions.sort(cmp);
  } catch {
    // Rare: a version the scheme rejects. Those are left out (their events keep rank UNPARSABLE).
    return versions.filter((v) => parses(cmp, v)).sort(cmp);
  }
}

/** Sort and deduplicate the versions one comparator sees; versions that do not parse are left out. */
export function buildBoundTable(cmp: Compare, versions: Iterable<string>): BoundTable {
  const sorted = sortParsable(cmp, [...new Set(versions)]);
  const bounds: string[] = [];
  const rankOf = new Map<string, number>();
  for (const v of sorted) {
    const last = bounds[bounds.length - 1];
    if (last === undefined || cmp(last, v) !== 0) bounds.push(v);
    rankOf.set(v, 2 * (bounds.length - 1) + 1);
  }
  // A lone version never met another in the sort: check it parses.
  if (sorted.length === 1 && !parses(cmp, sorted[0] as string)) return { cmp, bounds: [], rankOf: new Map() };
  return { cmp, bounds, rankOf };
}

/** Rank the events of a compiled range against the table of its comparator. */
export function rankRange(r: CompiledRange, tableIndex: number, table: BoundTable): RankedRange {
  const kinds: number[] = [];
  const ranks: number[] = [];
  const fixed: Array<string | undefined> = [];
  for (const e of r.events) {
    kinds.push(kindOf(e));
    const v = comparedVersion(e);
    ranks.push(v === undefined ? 0 : (table.rankOf.get(v) ?? UNPARSABLE));
    fixed.push(e.fixed);
  }
  return { table: tableIndex, kinds, ranks, fixed };
}

/**
 * Where `v` falls among the bounds: 2k+1 when it equals bound k, 2k when it lies just below
 * bound k (2n above all of them); UNPARSABLE when the comparator rejects `v`.
 */
export function positionOf(table: BoundTable, v: string): number {
  const { bounds, cmp } = table;
  let lo = 0;
  let hi = bounds.length;
  try {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmp(v, bounds[mid] as string);
      if (c === 0) return 2 * mid + 1;
      if (c < 0) hi = mid;
      else lo = mid + 1;
    }
  } catch {
    return UNPARSABLE;
  }
  return 2 * lo;
}

/**
 * `evalRange` on ranks: NOT_AFFECTED, AFFECTED (no fix after `pos`), or the index of the event
 * whose `fixed` version fixes it. A comparison `evalRange` would make with an unparsable side
 * (installed version or event) makes the range not match, as the throw did there.
 */
export function evalRanked(r: RankedRange, pos: number): number {
  const { kinds, ranks } = r;
  const n = kinds.length;
  let affected = false;
  let i = 0;
  for (; i < n; i++) {
    const k = kinds[i];
    if (k === KIND_NONE) continue;
    if (k === KIND_INTRODUCED_ZERO) {
      affected = true;
      continue;
    }
    const rank = ranks[i] as number;
    if (pos === UNPARSABLE || rank === UNPARSABLE) return NOT_AFFECTED;
    if (k === KIND_INTRODUCED) {
      if (pos < rank) break; // sorted: nothing later applies
      affected = true;
    } else if (k === KIND_FIXED) {
      if (pos < rank) break;
      affected = false;
    } else if (k === KIND_LAST_AFFECTED) {
      if (pos <= rank) break;
      affected = false;
    } else {
      if (pos < rank) break;
      return NOT_AFFECTED;
    }
  }
  if (!affected) return NOT_AFFECTED;
  for (; i < n; i++) {
    if (r.fixed[i] !== undefined) return i;
    if (kinds[i] !== KIND_NONE) break;
  }
  return AFFECTED;
}
