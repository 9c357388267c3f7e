/**
 * Packages and findings per image digest. A new scan of a digest replaces its whole set in one
 * transaction, and refreshes the summaries the lists read (`digests`, `vulnerabilities`).
 * Replacements are serialized (an advisory lock on PostgreSQL, the write lock on SQLite), so
 * two scans landing at once cannot interleave their counts.
 */
import { severityRank, SEVERITIES, type PackageType, type ScanReport, type Severity } from '@palisade/core';
import { nowIso, type RepoContext } from './context.js';
import {
  bool,
  first,
  jsonArray,
  lockTx,
  num,
  optNum,
  optStr,
  Params,
  str,
  type Row,
  type SqlExecutor,
  type SqlValue,
} from './sql.js';
import type { DigestScanResult, Finding, FindingInput, FindingRepository, PackageRecord } from './types.js';

// Rows per multi-row INSERT: 16 columns × 400 stays far below both engines' parameter limits.
const INSERT_BATCH = 400;
const IN_BATCH = 500;

const RANKED: ReadonlyArray<readonly [number, Severity]> = SEVERITIES.map((s) => [severityRank(s), s] as const);

export function rankSeverity(rank: number): Severity {
  return RANKED.find(([r]) => r === rank)?.[1] ?? 'unknown';
}

export function createFindingRepository(ctx: RepoContext): FindingRepository {
  return {
    replaceForDigest: (digest, result) => replaceForDigest(ctx, digest, result),
    forDigest: (digest) => findingsForDigest(ctx.ex, digest),
    packagesForDigest: (digest) => packagesForDigest(ctx.ex, digest),
  };
}

function replaceForDigest(ctx: RepoContext, digest: string, result: DigestScanResult): Promise<boolean> {
  return ctx.ex.transaction(async (tx) => {
    await lockTx(tx, `${ctx.lockPrefix}.findings`);
    const cur = await first(tx, 'SELECT scanned_at FROM digests WHERE digest = $1', [digest]);
    if (cur && str(cur, 'scanned_at') > result.scannedAt) return false;
    const before = await vulnIdsOf(tx, digest);
    await tx.run('DELETE FROM findings WHERE digest = $1', [digest]);
    await tx.run('DELETE FROM packages WHERE digest = $1', [digest]);
    await insertPackages(tx, digest, result.packages);
    await insertFindings(tx, digest, result.findings);
    await writeDigestSummary(tx, digest, result);
    await copyDigestSummary(tx, digest);
    await refreshVulnerabilities(ctx, tx, [...new Set([...before, ...result.findings.map((f) => f.vulnerabilityId)])]);
    return true;
  });
}

/** Forget a digest entirely (its last image was deleted). */
export async function dropDigest(ctx: RepoContext, tx: SqlExecutor, digest: string): Promise<void> {
  await lockTx(tx, `${ctx.lockPrefix}.findings`);
  const before = await vulnIdsOf(tx, digest);
  await tx.run('DELETE FROM findings WHERE digest = $1', [digest]);
  await tx.run('DELETE FROM packages WHERE digest = $1', [digest]);
  await tx.run('DELETE FROM digests WHERE digest = $1', [digest]);
  await refreshVulnerabilities(ctx, tx, before);
}

async function vulnIdsOf(tx: SqlExecutor, digest: string): Promise<string[]> {
  return (await tx.all('SELECT DISTINCT vuln_id FROM findings WHERE digest = $1', [digest])).map((r) =>
    str(r, 'vuln_id'),
  );
}

async function insertPackages(tx: SqlExecutor, digest: string, packages: readonly PackageRecord[]): Promise<void> {
  const cols = ['digest', 'package_id', 'name', 'version', 'type', 'purl', 'licenses', 'layer_digest'];
  await insertBatched(tx, 'packages', cols, packages, (pkg) => [
    digest,
    pkg.id,
    pkg.name,
    pkg.version,
    pkg.type,
    pkg.purl,
    JSON.stringify(pkg.licenses),
    pkg.layerDigest,
  ]);
}

async function insertFindings(tx: SqlExecutor, digest: string, findings: readonly FindingInput[]): Promise<void> {
  const cols = [
    'digest',
    'vuln_id',
    'package_id',
    'aliases',
    'package_name',
    'package_version',
    'package_type',
    'purl',
    'severity_rank',
    'fixable',
    'fixed_versions',
    'kev',
    'epss',
    'epss_percentile',
    'layer_digest',
    'title',
  ];
  await insertBatched(tx, 'findings', cols, findings, (f) => [
    digest,
    f.vulnerabilityId,
    f.packageId,
    JSON.stringify(f.aliases),
    f.packageName,
    f.packageVersion,
    f.packageType,
    f.purl,
    severityRank(f.severity),
    f.fixedVersions.length > 0,
    JSON.stringify(f.fixedVersions),
    f.kev,
    f.epss,
    f.epssPercentile,
    f.layerDigest,
    f.title,
  ]);
}

/** Multi-row INSERTs; a duplicate key (same vulnerability, same package twice in a report) keeps the first. */
async function insertBatched<T>(
  tx: SqlExecutor,
  table: string,
  cols: readonly string[],
  items: readonly T[],
  values: (item: T) => SqlValue[],
): Promise<void> {
  for (let start = 0; start < items.length; start += INSERT_BATCH) {
    const p = new Params();
    const tuples = items.slice(start, start + INSERT_BATCH).map(
      (it) =>
        `(${values(it)
          .map((v) => p.add(v))
          .join(', ')})`,
    );
    await tx.run(
      `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`,
      p.values,
    );
  }
}

async function writeDigestSummary(tx: SqlExecutor, digest: string, result: DigestScanResult): Promise<void> {
  const bySeverity = SEVERITIES.map(
    (s) => `COALESCE(SUM(CASE WHEN severity_rank = ${severityRank(s)} THEN 1 ELSE 0 END), 0) AS n_${s},
    COALESCE(SUM(CASE WHEN severity_rank = ${severityRank(s)} THEN fixable ELSE 0 END), 0) AS f_${s}`,
  );
  const cols = SEVERITIES.flatMap((s) => [`n_${s}`, `f_${s}`]);
  // Counted from the rows just written (not from the input), so duplicates dropped on insert are not counted.
  await tx.run(
    `INSERT INTO digests (digest, scan_id, scanned_at, packages, total, fixable, max_rank, ${cols.join(', ')})
     SELECT $1, $2, $3, CAST($4 AS INTEGER), COUNT(*), COALESCE(SUM(fixable), 0), COALESCE(MAX(severity_rank), -1), ${bySeverity.join(', ')}
     FROM findings WHERE digest = $1
     ON CONFLICT (digest) DO UPDATE SET scan_id = excluded.scan_id, scanned_at = excluded.scanned_at, packages = excluded.packages,
       total = excluded.total, fixable = excluded.fixable, max_rank = excluded.max_rank,
       ${cols.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    [digest, result.scanId, result.scannedAt, result.packages.length],
  );
}

const COUNT_COLS = SEVERITIES.flatMap((s) => [`n_${s}`, `f_${s}`]);

/**
 * Copy the digest's `digests` row onto its `images` rows (the list sorts and filters on those
 * columns, see migration 2), in the caller's transaction. With `imageId`, only that image (a row
 * just created for a digest that may already be scanned); nothing happens when the digest has
 * no summary yet (the columns keep their "never scanned" defaults).
 */
export async function copyDigestSummary(tx: SqlExecutor, digest: string, imageId?: string): Promise<void> {
  const p = new Params();
  const d = p.add(digest);
  const only = imageId === undefined ? '' : ` AND id = ${p.add(imageId)}`;
  await tx.run(
    `UPDATE images SET (scan_id, scanned_at, scanned_key, packages, total, fixable, max_rank, ${COUNT_COLS.join(', ')}) =
       (SELECT d.scan_id, d.scanned_at, d.scanned_at, d.packages, d.total, d.fixable, d.max_rank, ${COUNT_COLS.map((c) => `d.${c}`).join(', ')}
        FROM digests d WHERE d.digest = ${d})
     WHERE digest = ${d}${only} AND EXISTS (SELECT 1 FROM digests d2 WHERE d2.digest = ${d})`,
    p.values,
  );
}

/** Recompute the cross-image summary rows of these vulnerabilities from the findings. */
async function refreshVulnerabilities(ctx: RepoContext, tx: SqlExecutor, ids: readonly string[]): Promise<void> {
  const now = nowIso(ctx);
  for (let start = 0; start < ids.length; start += IN_BATCH) {
    const chunk = ids.slice(start, start + IN_BATCH);
    const del = new Params();
    await tx.run(`DELETE FROM vulnerabilities WHERE vuln_id IN (${del.list(chunk)})`, del.values);
    const p = new Params();
    const at = p.add(now);
    await tx.run(
      `INSERT INTO vulnerabilities (vuln_id, severity_rank, aliases, title, kev, epss, epss_key, affected_images, fixable_images, affected_packages, updated_at)
       SELECT vuln_id, MAX(severity_rank), MAX(aliases), MAX(title), MAX(kev), MAX(epss), COALESCE(MAX(epss), -1),
         COUNT(DISTINCT digest), COUNT(DISTINCT CASE WHEN fixable = 1 THEN digest END), COUNT(DISTINCT purl), ${at}
       FROM findings WHERE vuln_id IN (${p.list(chunk)}) GROUP BY vuln_id`,
      p.values,
    );
  }
}

export async function findingsForDigest(ex: SqlExecutor, digest: string): Promise<Finding[]> {
  const rows = await ex.all(
    'SELECT * FROM findings WHERE digest = $1 ORDER BY severity_rank DESC, vuln_id, package_name, package_id',
    [digest],
  );
  return rows.map(toFinding);
}

export async function packagesForDigest(ex: SqlExecutor, digest: string): Promise<PackageRecord[]> {
  const rows = await ex.all('SELECT * FROM packages WHERE digest = $1 ORDER BY name, version, package_id', [digest]);
  return rows.map((r): PackageRecord => ({
    id: str(r, 'package_id'),
    name: str(r, 'name'),
    version: str(r, 'version'),
    type: str(r, 'type') as PackageType,
    purl: str(r, 'purl'),
    licenses: jsonArray(r, 'licenses'),
    layerDigest: optStr(r, 'layer_digest'),
  }));
}

function toFinding(r: Row): Finding {
  return {
    digest: str(r, 'digest'),
    vulnerabilityId: str(r, 'vuln_id'),
    aliases: jsonArray(r, 'aliases'),
    packageId: str(r, 'package_id'),
    packageName: str(r, 'package_name'),
    packageVersion: str(r, 'package_version'),
    packageType: str(r, 'package_type') as PackageType,
    purl: str(r, 'purl'),
    severity: rankSeverity(num(r, 'severity_rank')),
    fixable: bool(r, 'fixable'),
    fixedVersions: jsonArray(r, 'fixed_versions'),
    kev: bool(r, 'kev'),
    epss: optNum(r, 'epss'),
    epssPercentile: optNum(r, 'epss_percentile'),
    layerDigest: optStr(r, 'layer_digest'),
    title: optStr(r, 'title'),
  };
}

/** What a scan report contributes to storage: its packages and (unsuppressed) vulnerabilities. */
export function resultFromReport(report: ScanReport, scanId: string | null): DigestScanResult {
  const layerOf = new Map(report.packages.map((p) => [p.id, p.locations[0]?.layerDigest ?? null] as const));
  return {
    scanId,
    scannedAt: report.createdAt,
    packages: report.packages.map((p) => ({
      id: p.id,
      name: p.name,
      version: p.version,
      type: p.type,
      purl: p.purl,
      licenses: p.licenses ?? [],
      layerDigest: layerOf.get(p.id) ?? null,
    })),
    findings: report.vulnerabilities
      .filter((v) => v.suppressed === undefined)
      .map((v) => ({
        vulnerabilityId: v.id,
        aliases: v.aliases,
        packageId: v.package.id,
        packageName: v.package.name,
        packageVersion: v.installedVersion,
        packageType: v.package.type,
        purl: v.package.purl,
        severity: v.severity,
        fixedVersions: v.fixedVersions,
        kev: v.kev !== undefined,
        epss: v.epss?.score ?? null,
        epssPercentile: v.epss?.percentile ?? null,
        layerDigest: layerOf.get(v.package.id) ?? null,
        title: v.title ?? null,
      })),
  };
}
