/**
 * Alias deduplication: hits of one package whose records share an id (CVE, GHSA, PYSEC, GO…)
 * become one finding, reported under the CVE when there is one. Umbrella records (a USN or DSA
 * naming several CVEs) fold into the findings of those CVEs when all of them are present.
 */
import type { AdvisoryRow } from '../store/read.js';
import type { EntryHit } from './index.js';
import { isCve } from '../ids.js';

export interface Hit extends EntryHit {
  record: AdvisoryRow;
}

export interface HitGroup {
  hits: Hit[];
  ids: Set<string>;
}

function strongIds(h: Hit): string[] {
  return [h.record.id, ...h.record.data.aliases];
}

function find(parent: number[], i: number): number {
  let r = i;
  while (parent[r] !== r) r = parent[r] ?? r;
  parent[i] = r;
  return r;
}

function isUmbrella(h: Hit): boolean {
  return h.record.data.related.length > 0 && !strongIds(h).some(isCve);
}

/** Group the hits of one package by shared ids. */
export function groupHits(hits: readonly Hit[]): HitGroup[] {
  const only = hits.length === 1 ? hits[0] : undefined;
  if (only !== undefined) return [{ hits: [only], ids: new Set(strongIds(only)) }];
  const parent = hits.map((_, i) => i);
  const owner = new Map<string, number>();
  hits.forEach((h, i) => {
    for (const id of strongIds(h)) {
      const j = owner.get(id);
      if (j === undefined) owner.set(id, i);
      else parent[find(parent, i)] = find(parent, j);
    }
  });
  const groups = new Map<number, HitGroup>();
  hits.forEach((h, i) => {
    const root = find(parent, i);
    const g = groups.get(root) ?? { hits: [], ids: new Set<string>() };
    g.hits.push(h);
    for (const id of strongIds(h)) g.ids.add(id);
    groups.set(root, g);
  });
  return foldUmbrellas([...groups.values()]);
}

function foldUmbrellas(groups: HitGroup[]): HitGroup[] {
  const out: HitGroup[] = [];
  const umbrellas: HitGroup[] = [];
  for (const g of groups) (g.hits.every(isUmbrella) ? umbrellas : out).push(g);
  for (const u of umbrellas) {
    const related = new Set(u.hits.flatMap((h) => h.record.data.related));
    const targets = [...related].map((cve) => out.find((g) => g.ids.has(cve)));
    if (targets.length > 0 && targets.every((t) => t !== undefined)) {
      // Every CVE of the notice is already reported: the notice becomes an alias of each.
      for (const t of targets) for (const id of u.ids) t?.ids.add(id);
    } else {
      out.push(u);
    }
  }
  return out;
}

/** The group's primary id: a CVE when there is one, else a GHSA, else the smallest id. */
export function primaryId(ids: Iterable<string>): string {
  const sorted = [...ids].sort();
  return sorted.find(isCve) ?? sorted.find((i) => i.startsWith('GHSA-')) ?? sorted[0] ?? '';
}
