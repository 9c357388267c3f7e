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
