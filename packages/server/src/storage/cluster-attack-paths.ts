/**
 * Attack paths of connected clusters: the table of the latest complete snapshot's ranked paths
 * (migration 6), and the read of the stored image scan results that ranks them.
 *
 * Image vulnerabilities are read in batches for a whole snapshot: the digests the cluster runs
 * (pods' `status.containerStatuses[].imageID`, pinned references) and the references they were
 * pulled by, in a fixed number of queries per 500 of each (one on `images` for the references,
 * two on `digests`/`findings` for the counts and the worst ids), never a query per container.
 * Counts are of distinct vulnerability ids, as `palisade posture scan --image-vulns` counts a
 * scan report, so a path ranks the same from the server's results as from the report.
 */
import { severityRank } from '@palisade/core';
import type { DigestVulnRecord, ImageReferenceKey, ImageVulnerabilityIndex } from './cluster-types.js';
import { jsonArray, num, optNum, Params, str, type SqlExecutor } from './sql.js';

/**
 * Migration 6. The path itself (steps, factors, workload, target, MITRE) is one JSON column: it
 * is read whole, a page at a time; the columns beside it are what pages sort and filter on.
 * `attack_paths` on a snapshot counts what it stored (null for snapshots from before).
 */
export const ATTACK_PATHS_MIGRATION = `
CREATE TABLE cluster_attack_paths (
  cluster_id TEXT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  snapshot_id TEXT NOT NULL,
  path_rank INTEGER NOT NULL,
  score INTEGER NOT NULL,
  severity_order INTEGER NOT NULL,
  namespace TEXT NOT NULL,
  target_kind TEXT NOT NULL,
  explanation TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (cluster_id, id)
);
CREATE INDEX cluster_attack_paths_by_rank ON cluster_attack_paths (cluster_id, path_rank, id);
ALTER TABLE cluster_snapshots ADD COLUMN attack_paths INTEGER
`;

/** Items per IN list: well under both engines' bound-parameter limits. */
const IN_BATCH = 500;
/** Vulnerability ids named per image. */
const TOP_IDS = 5;
const CRITICAL = severityRank('critical');
const HIGH = severityRank('high');
const MEDIUM = severityRank('medium');
const LOW = severityRank('low');

export function referenceKey(r: ImageReferenceKey): string {
  return `${r.registry}/${r.repository}:${r.tag}`;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += IN_BATCH) out.push(items.slice(i, i + IN_BATCH));
  return out;
}

/** See ClusterRepository.imageVulnerabilities. */
export async function imageVulnerabilities(
  ex: SqlExecutor,
  input: { digests: Iterable<string>; references: Iterable<ImageReferenceKey> },
): Promise<ImageVulnerabilityIndex> {
  const byReference = await digestsByReference(ex, input.references);
  const digests = [...new Set([...input.digests, ...byReference.values()])].sort();
  const byDigest = new Map<string, DigestVulnRecord>();
  for (const chunk of chunks(digests)) {
    for (const r of await countsOf(ex, chunk)) byDigest.set(r.digest, r);
    for (const [digest, ids] of await worstIdsOf(ex, chunk)) {
      const rec = byDigest.get(digest);
      if (rec) rec.top = ids;
    }
  }
  // A reference whose digest has no stored scan says nothing: drop it, it would read as "clean".
  for (const [key, digest] of byReference) if (!byDigest.has(digest)) byReference.delete(key);
  return { byDigest, byReference };
}

/**
 * The newest scanned digest filed under each reference's tag. Tags accumulate on an image row
 * (a moved tag keeps its old digests), so the most recently pushed, then scanned, one wins.
 */
async function digestsByReference(
  ex: SqlExecutor,
  references: Iterable<ImageReferenceKey>,
): Promise<Map<string, string>> {
  const wanted = new Map<string, ImageReferenceKey>();
  for (const r of references) wanted.set(referenceKey(r), r);
  const repositories = [...new Set([...wanted.values()].map((r) => r.repository))].sort();
  const best = new Map<string, { digest: string; order: string }>();
  for (const chunk of chunks(repositories)) {
    const p = new Params();
    const rows = await ex.all(
      `SELECT registry, repository, digest, tags, pushed_key, scanned_key FROM images
       WHERE repository IN (${p.list(chunk)}) AND scanned_key <> ''`,
      p.values,
    );
    for (const row of rows) {
      const base = { registry: str(row, 'registry'), repository: str(row, 'repository') };
      for (const tag of jsonArray(row, 'tags')) {
        const key = referenceKey({ ...base, tag });
        if (!wanted.has(key)) continue;
        const digest = str(row, 'digest');
        // Ties broken by digest: the same rows give the same answer on either engine.
        const order = `${str(row, 'pushed_key')}\u0000${str(row, 'scanned_key')}\u0000${digest}`;
        const seen = best.get(key);
        if (!seen || order > seen.order) best.set(key, { digest, order });
      }
    }
  }
  return new Map([...best].map(([k, v]) => [k, v.digest]));
}

/** Counts per scanned digest; a digest scanned clean has a row of zeros (known), an unscanned one none. */
async function countsOf(ex: SqlExecutor, digests: readonly string[]): Promise<DigestVulnRecord[]> {
  const p = new Params();
  const inner = p.list(digests);
  const outer = p.list(digests);
  const bySev = (rank: number, col: string): string =>
    `COALESCE(SUM(CASE WHEN v.sev = ${rank} THEN 1 ELSE 0 END), 0) AS ${col}`;
  // One row per (digest, vulnerability) first: a vulnerability in two packages counts once.
  const rows = await ex.all(
    `SELECT d.digest AS digest, ${bySev(CRITICAL, 'critical')}, ${bySev(HIGH, 'high')}, ${bySev(MEDIUM, 'medium')},
       ${bySev(LOW, 'low')}, COALESCE(SUM(v.kev), 0) AS kev, COALESCE(SUM(v.fixable), 0) AS fixable, MAX(v.epss) AS epss
     FROM digests d
     LEFT JOIN (
       SELECT digest, vuln_id, MAX(severity_rank) AS sev, MAX(kev) AS kev, MAX(fixable) AS fixable, MAX(epss) AS epss
       FROM findings WHERE digest IN (${inner}) GROUP BY digest, vuln_id
     ) v ON v.digest = d.digest
     WHERE d.digest IN (${outer})
     GROUP BY d.digest`,
    p.values,
  );
  return rows.map((r) => {
    const epss = optNum(r, 'epss');
    return {
      digest: str(r, 'digest'),
      critical: num(r, 'critical'),
      high: num(r, 'high'),
      medium: num(r, 'medium'),
      low: num(r, 'low'),
      kev: num(r, 'kev'),
      fixable: num(r, 'fixable'),
      ...(epss !== null ? { epss } : {}),
      top: [],
    };
  });
}

/** The worst ids per digest: KEV first, then severity, then EPSS, then id (only critical, high and KEV are read). */
async function worstIdsOf(ex: SqlExecutor, digests: readonly string[]): Promise<Map<string, string[]>> {
  const p = new Params();
  const rows = await ex.all(
    `SELECT digest, vuln_id, MAX(severity_rank) AS sev, MAX(kev) AS kev, MAX(epss) AS epss FROM findings
     WHERE digest IN (${p.list(digests)}) AND (severity_rank >= ${HIGH} OR kev = 1)
     GROUP BY digest, vuln_id`,
    p.values,
  );
  const per = new Map<string, Array<{ id: string; kev: number; sev: number; epss: number }>>();
  for (const r of rows) {
    const digest = str(r, 'digest');
    const list = per.get(digest) ?? [];
    list.push({ id: str(r, 'vuln_id'), kev: num(r, 'kev'), sev: num(r, 'sev'), epss: optNum(r, 'epss') ?? -1 });
    per.set(digest, list);
  }
  const out = new Map<string, string[]>();
  for (const [digest, list] of per) {
    list.sort((a, b) => b.kev - a.kev || b.sev - a.sev || b.epss - a.epss || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    out.set(
      digest,
      list.slice(0, TOP_IDS).map((v) => v.id),
    );
  }
  return out;
}
