/**
 * Alias deduplication: hits of one package whose records share an id (CVE, GHSA, PYSEC, GO…)
 * become one finding, reported under the CVE when there is one. Umbrella records (a USN or DSA
 * naming several CVEs) fold into the findings of those CVEs when all of them are present.
 *
 * What only depends on a record (its ids, whether it is an umbrella, its primary id and sorted
 * aliases) is computed once per record (`Rec`), so grouping allocates little per finding.
 */
import type { AdvisoryRow } from '../store/read.js';
import type { EntryHit } from './index.js';
import { isCve } from '../ids.js';

/** An advisory record with the facts grouping and reporting need, computed once. */
export interface Rec extends AdvisoryRow {
  /** The record's own id, then its aliases. */
  readonly strong: readonly string[];
  readonly umbrella: boolean;
  /** primaryId of the record's ids alone. */
  readonly primary: string;
  /** The record's distinct ids but `primary`, sorted. */
  readonly others: readonly string[];
}

export function toRec(row: AdvisoryRow): Rec {
  const strong = [row.id, ...row.data.aliases];
  const ids = new Set(strong);
  const primary = primaryId(ids);
  return {
    feed: row.feed,
    id: row.id,
    data: row.data,
    strong,
    umbrella: row.data.related.length > 0 && !strong.some(isCve),
    primary,
    others: [...ids].filter((i) => i !== primary).sort(),
  };
}

export type Hit = EntryHit<Rec> & { record: Rec };

export interface HitGroup {
  hits: Hit[];
  /** Every id of the group; undefined for a lone record nothing folded into (its ids are `strong`). */
  ids: Set<string> | undefined;
}

/** The ids of a group, materialised (a lone record's group gets its own Set on first need). */
export function idsOf(g: HitGroup): Set<string> {
  g.ids ??= new Set((g.hits[0] as Hit).record.strong);
  return g.ids;
}

function find(parent: Int32Array, i: number): number {
  let r = i;
  while (parent[r] !== r) r = parent[r] as number;
  parent[i] = r;
  return r;
}

/** Group the hits of one package by shared ids (union-find over ids: linear in the ids). */
export function groupHits(hits: readonly Hit[]): HitGroup[] {
  if (hits.length === 1) return [{ hits: [hits[0] as Hit], ids: undefined }];
  const parent = new Int32Array(hits.length);
  const owner = new Map<string, number>();
  for (let i = 0; i < hits.length; i++) {
    parent[i] = i;
    for (const id of (hits[i] as Hit).record.strong) {
      const j = owner.get(id);
      if (j === undefined) owner.set(id, i);
      else parent[find(parent, i)] = find(parent, j);
    }
  }
  // Groups in the order of their first hit; a group of one record keeps its ids implicit.
  const groups = new Map<number, HitGroup>();
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i] as Hit;
    const root = find(parent, i);
    const g = groups.get(root);
    if (g === undefined) {
      groups.set(root, { hits: [h], ids: undefined });
    } else {
      idsOf(g);
      g.hits.push(h);
      for (const id of h.record.strong) g.ids?.add(id);
    }
  }
  return foldUmbrellas([...groups.values()]);
}

function foldUmbrellas(groups: HitGroup[]): HitGroup[] {
  const out: HitGroup[] = [];
  const umbrellas: HitGroup[] = [];
  for (const g of groups) (g.hits.every((h) => h.record.umbrella) ? umbrellas : out).push(g);
  if (umbrellas.length === 0) return out;
  // id → index of the first group of `out` holding it (what a scan of `out` would find first).
  const where = new Map<string, number>();
  const note = (id: string, at: number): void => {
    const seen = where.get(id);
    if (seen === undefined || seen > at) where.set(id, at);
  };
  out.forEach((g, at) => idsOf(g).forEach((id) => note(id, at)));
  for (const u of umbrellas) {
    const related = new Set(u.hits.flatMap((h) => h.record.data.related));
    const targets = [...related].map((cve) => where.get(cve));
    const found = targets.filter((t): t is number => t !== undefined);
    if (targets.length > 0 && found.length === targets.length) {
      // Every CVE of the notice is already reported: the notice becomes an alias of each.
      for (const t of found) {
        const ids = idsOf(out[t] as HitGroup);
        for (const id of idsOf(u)) {
          ids.add(id);
          note(id, t);
        }
      }
    } else {
      out.push(u);
      for (const id of idsOf(u)) note(id, out.length - 1);
    }
  }
  return out;
}

/** The group's primary id: a CVE when there is one, else a GHSA, else the smallest id. */
export function primaryId(ids: Iterable<string>): string {
  // The smallest of each kind, in one pass: what sorting and taking the first would give.
  let cve: string | undefined;
  let ghsa: string | undefined;
  let least: string | undefined;
  for (const id of ids) {
    if (least === undefined || id < least) least = id;
    if (id.startsWith('GHSA-')) {
      if (ghsa === undefined || id < ghsa) ghsa = id;
    } else if ((cve === undefined || id < cve) && isCve(id)) {
      cve = id;
    }
  }
  return cve ?? ghsa ?? least ?? '';
}
