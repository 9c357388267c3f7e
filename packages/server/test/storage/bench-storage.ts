/**
 * Storage measurements recorded in docs/server-storage.md. Not a test (no .test suffix): run
 *   node packages/server/dist/test/storage/bench-storage.js [images] [findings]
 * It loads N images and M findings (generated in SQL), then times
 *  - the naive images list (counts aggregated from findings at read time) on better-sqlite3 and PGlite,
 *  - the real Storage queries (summary tables) on the embedded backend and on PostgreSQL.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { tempDir } from '@palisade/testkit';
import { MIGRATIONS, openStorage, type Storage } from '../../src/storage/index.js';
import { PG_URL, TEST_KEY } from './harness.js';

const IMAGES = Number(process.argv[2] ?? 10_000);
const FINDINGS = Number(process.argv[3] ?? 1_000_000);
const VULNS = 20_000;

const NAIVE_LIST = `SELECT i.id, i.repository, COALESCE(c.critical, 0) AS critical, COALESCE(c.high, 0) AS high, COALESCE(c.total, 0) AS total
  FROM images i LEFT JOIN (
    SELECT digest, SUM(CASE WHEN severity_rank = 5 THEN 1 ELSE 0 END) AS critical,
           SUM(CASE WHEN severity_rank = 4 THEN 1 ELSE 0 END) AS high, COUNT(*) AS total
    FROM findings GROUP BY digest) c ON c.digest = i.digest
  ORDER BY critical DESC, high DESC, i.id LIMIT 50`;

// Generated rows: image i has digest i; finding k belongs to digest k % IMAGES.
function seedSql(series: string): string {
  // substr from length-63: negative starts differ between SQLite and PostgreSQL.
  const padded = (k: string): string =>
    `('0000000000000000000000000000000000000000000000000000000000000000' || CAST(${k} AS TEXT))`;
  const digest = (k: string): string => `'sha256:' || substr(${padded(k)}, length(${padded(k)}) - 63)`;
  return `
  INSERT INTO images (id, registry, repository, digest, tags, first_seen_at)
    SELECT 'img' || CAST(k AS TEXT), 'reg', 'team/repo' || CAST(k % 500 AS TEXT), ${digest('k')}, '["latest"]', '2025-01-01T00:00:00.000Z'
    FROM ${series.replace('$N', String(IMAGES))};
  INSERT INTO findings (digest, vuln_id, package_id, aliases, package_name, package_version, package_type, purl, severity_rank, fixable, fixed_versions, kev, layer_digest)
    SELECT ${digest(`k % ${IMAGES}`)}, 'CVE-' || CAST((k * 7) % ${VULNS} AS TEXT), 'p' || CAST(k AS TEXT), '[]', 'pkg' || CAST(k % 300 AS TEXT), '1.0', 'deb',
      'pkg:deb/debian/pkg' || CAST(k % 300 AS TEXT) || '@1.0', k % 6, CASE WHEN k % 3 = 0 THEN 1 ELSE 0 END, '[]', CASE WHEN k % 997 = 0 THEN 1 ELSE 0 END, NULL
    FROM ${series.replace('$N', String(FINDINGS))};
  INSERT INTO digests (digest, scanned_at, packages, total, fixable, max_rank, n_critical, n_high, n_medium, n_low, n_negligible, n_unknown,
      f_critical, f_high, f_medium, f_low, f_negligible, f_unknown)
    SELECT digest, '2025-02-01T00:00:00.000Z', COUNT(*), COUNT(*), SUM(fixable), MAX(severity_rank),
      SUM(CASE WHEN severity_rank = 5 THEN 1 ELSE 0 END), SUM(CASE WHEN severity_rank = 4 THEN 1 ELSE 0 END), SUM(CASE WHEN severity_rank = 3 THEN 1 ELSE 0 END),
      SUM(CASE WHEN severity_rank = 2 THEN 1 ELSE 0 END), SUM(CASE WHEN severity_rank = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN severity_rank = 0 THEN 1 ELSE 0 END),
      SUM(CASE WHEN severity_rank = 5 THEN fixable ELSE 0 END), SUM(CASE WHEN severity_rank = 4 THEN fixable ELSE 0 END), SUM(CASE WHEN severity_rank = 3 THEN fixable ELSE 0 END),
      SUM(CASE WHEN severity_rank = 2 THEN fixable ELSE 0 END), SUM(CASE WHEN severity_rank = 1 THEN fixable ELSE 0 END), SUM(CASE WHEN severity_rank = 0 THEN fixable ELSE 0 END)
    FROM findings GROUP BY digest;
  INSERT INTO vulnerabilities (vuln_id, severity_rank, aliases, title, kev, epss, affected_images, fixable_images, affected_packages, updated_at)
    SELECT vuln_id, MAX(severity_rank), MAX(aliases), MAX(title), MAX(kev), MAX(epss), COUNT(DISTINCT digest),
      COUNT(DISTINCT CASE WHEN fixable = 1 THEN digest END), COUNT(DISTINCT purl), '2025-02-01T00:00:00.000Z'
    FROM findings GROUP BY vuln_id;`;
}

/** The copies migration 2 keeps on `images` / `vulnerabilities` (the storage code maintains them on every write). */
const SYNC_SQL = `
  UPDATE images SET (scan_id, scanned_at, scanned_key, packages, total, fixable, max_rank, n_critical, f_critical, n_high, f_high,
      n_medium, f_medium, n_low, f_low, n_negligible, f_negligible, n_unknown, f_unknown) =
    (SELECT d.scan_id, d.scanned_at, d.scanned_at, d.packages, d.total, d.fixable, d.max_rank, d.n_critical, d.f_critical, d.n_high,
      d.f_high, d.n_medium, d.f_medium, d.n_low, d.f_low, d.n_negligible, d.f_negligible, d.n_unknown, d.f_unknown
     FROM digests d WHERE d.digest = images.digest)
  WHERE digest IN (SELECT digest FROM digests);
  UPDATE vulnerabilities SET epss_key = epss WHERE epss IS NOT NULL;`;

const SQLITE_SERIES = `(WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k + 1 < $N) SELECT k FROM s) AS s`;
const PG_SERIES = `generate_series(0, $N - 1) AS k`;

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

async function time(runs: number, fn: () => unknown): Promise<Stats> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number): number => Number((ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0).toFixed(2));
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

function report(label: string, s: Stats | number): void {
  console.log(
    typeof s === 'number'
      ? `${label}: ${s.toFixed(0)} ms`
      : `${label}: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms`,
  );
}

async function storageQueries(label: string, s: Storage): Promise<void> {
  const runs = 200;
  report(`${label} images.list (severity sort, page 1)`, await time(runs, () => s.images.list({ limit: 50 })));
  report(
    `${label} images.list (critical+fixable, text)`,
    await time(runs, () => s.images.list({ severity: ['critical'], fixable: true, text: 'repo12', limit: 50 })),
  );
  const mid = await s.images.list({ sort: 'repository', order: 'asc', limit: 50, offset: 5000 });
  report(
    `${label} images.list (keyset page deep)`,
    await time(runs, () =>
      s.images.list({ sort: 'repository', order: 'asc', limit: 50, cursor: mid.nextCursor ?? undefined }),
    ),
  );
  report(`${label} vulnerabilities.list (severity)`, await time(runs, () => s.vulnerabilities.list({ limit: 50 })));
  report(
    `${label} vulnerabilities.list (kev, fixable)`,
    await time(runs, () => s.vulnerabilities.list({ kev: true, fixable: true, limit: 50 })),
  );
  const img = (await s.images.list({ limit: 1 })).items[0];
  report(`${label} images.detail (100 findings)`, await time(runs, () => s.images.detail(img?.id ?? '')));
  report(
    `${label} vulnerabilities.affectedImages`,
    await time(runs, () => s.vulnerabilities.affectedImages('CVE-7', { limit: 50 })),
  );
}

async function main(): Promise<void> {
  console.log(`images ${IMAGES}, findings ${FINDINGS}, distinct vulnerabilities ${VULNS}`);
  const dir = tempDir('palisade-bench-');
  try {
    // Embedded: schema from the migrations, data in SQL, then the real queries.
    const s = await openStorage({ dataDir: dir.path, secretKey: TEST_KEY });
    await s.close();
    const raw = new BetterSqlite3(join(dir.path, 'palisade.sqlite'));
    let t = performance.now();
    raw.exec(`BEGIN; ${seedSql(SQLITE_SERIES)} ${SYNC_SQL} COMMIT; ANALYZE;`);
    report('better-sqlite3 load', performance.now() - t);
    report(
      'better-sqlite3 naive images list (aggregate 1M findings)',
      await time(5, () => raw.prepare(NAIVE_LIST).all()),
    );
    raw.close();
    const embedded = await openStorage({ dataDir: dir.path, secretKey: TEST_KEY });
    await storageQueries('embedded', embedded);
    await embedded.close();

    const lite = new PGlite();
    await lite.exec((MIGRATIONS[0]?.sql ?? '') + ';');
    t = performance.now();
    await lite.exec(`BEGIN; ${seedSql(PG_SERIES)} COMMIT; ANALYZE;`);
    report('PGlite load', performance.now() - t);
    report('PGlite naive images list (aggregate 1M findings)', await time(5, () => lite.query(NAIVE_LIST)));
    report(
      'PGlite summary images list',
      await time(50, () =>
        lite.query(
          `SELECT i.*, d.* FROM images i LEFT JOIN digests d ON d.digest = i.digest ORDER BY COALESCE(d.max_rank, -1) DESC, COALESCE(d.n_critical, 0) DESC, i.id DESC LIMIT 51`,
        ),
      ),
    );
    await lite.close();

    const schema = `palisade_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const p = await openStorage({ databaseUrl: PG_URL, schema, secretKey: TEST_KEY });
      const c = await admin.connect();
      t = performance.now();
      await c.query(`SET search_path TO ${schema}; BEGIN; ${seedSql(PG_SERIES)} ${SYNC_SQL} COMMIT; ANALYZE;`);
      c.release(true);
      report('postgres load', performance.now() - t);
      report(
        'postgres naive images list (aggregate 1M findings)',
        await time(5, () => admin.query(`SET search_path TO ${schema}; ${NAIVE_LIST}`)),
      );
      await storageQueries('postgres', p);
      await p.close();
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  } finally {
    dir.cleanup();
  }
}

await main();
