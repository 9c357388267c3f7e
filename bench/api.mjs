// bench api: GET /api/v1/images and /api/v1/vulnerabilities with 10,000 images and 1,000,000
// findings stored. Target: p99 <= 50 ms on embedded storage and on PostgreSQL.
//
// Data: generated with bulk SQL straight into the tables the storage layer reads (loading a
// million findings through replaceForDigest would take many minutes and measure the writer,
// not the lists), then the per-digest summaries, the vulnerability summaries and the copies on
// the image rows are computed in SQL exactly as the storage code maintains them.
//   images: 10,000 in 2 registries and 500 repositories; 9,000 scanned with findings, 500
//           scanned and clean, 500 never scanned; 70% have a last-pushed time.
//   findings: 1,000,000 over 20,000 vulnerabilities; severity is a property of the vulnerability
//           (about 20% of images end up with a critical), 40% of findings fixable, 1% of
//           vulnerabilities in KEV, half with an EPSS score.
// Embedded storage lives in bench/.work/api-embedded; PostgreSQL (PALISADE_BENCH_DATABASE_URL,
// default postgres://postgres@127.0.0.1:5432/test) in a throwaway schema dropped at the end.
//
// Requests go through the real HTTP app (createApp) on 127.0.0.1 with a reader bearer token,
// one keep-alive connection, one request at a time, so each figure is one request's latency.
// If the build has no createApp, the storage calls are timed instead, and the output says so.
// The mix: first pages in every sort, later pages by keyset cursor, a deep keyset page, filters
// (severity, fixable, KEV, registry, repository, id prefix) and text search.
//
//   node bench/api.mjs [--images N] [--findings N] [--requests N] [--only embedded|postgres]
// PALISADE_BENCH_SERVER_DIST points at another build of packages/server/dist to compare builds.
// PALISADE_BENCH_KEEP_SCHEMA=1 keeps the PostgreSQL schema (to look at query plans); drop it yourself.
// Prints figures; never asserts.
import http from 'node:http';
import { rmSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { root, work } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const IMAGES = Number(arg('images', 10_000));
const FINDINGS = Number(arg('findings', 1_000_000));
const REQUESTS = Number(arg('requests', 400));
const ONLY = arg('only', '');
const VULNS = 20_000;
const PG_URL = process.env.PALISADE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = Buffer.alloc(32, 7);

const distDir = resolve(process.env.PALISADE_BENCH_SERVER_DIST ?? join(root, 'packages', 'server', 'dist'));
const imp = (p) => import(pathToFileURL(join(distDir, p)).href);
const storageMod = await imp('src/storage/index.js');
const serverMod = await imp('src/index.js').catch(() => ({}));
const { systemClock } = await import('../packages/core/dist/src/index.js');
const viaHttp = typeof serverMod.createApp === 'function' && typeof serverMod.createScanQueue === 'function';

// ---------- data ----------

const SCANNED = Math.floor(IMAGES * 0.9);
const CLEAN = Math.floor(IMAGES * 0.05);

/** Bulk load; `series` yields k = 0..$N-1, `big` casts to a 64-bit integer. */
function seedSql(series, big) {
  const pad = (k) => `('0000000000000000000000000000000000000000000000000000000000000000' || CAST(${k} AS TEXT))`;
  // substr from length-63: negative starts differ between SQLite and PostgreSQL.
  const digest = (k) => `'sha256:' || substr(${pad(k)}, length(${pad(k)}) - 63)`;
  const v = `((${big('k')} * 7) % ${VULNS})`;
  // Severity by vulnerability: 0.2% critical, 10% high, then medium, low, negligible, unknown.
  const rank = `CASE WHEN ${v} % 500 = 0 THEN 5 WHEN ${v} % 10 = 1 THEN 4 WHEN ${v} % 10 IN (0, 2, 3, 4, 5) THEN 3
    WHEN ${v} % 10 IN (6, 7) THEN 2 WHEN ${v} % 10 = 8 THEN 1 ELSE 0 END`;
  const counts = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
  const n = counts.map((s, i) => `SUM(CASE WHEN severity_rank = ${5 - i} THEN 1 ELSE 0 END)`);
  const f = counts.map((s, i) => `SUM(CASE WHEN severity_rank = ${5 - i} THEN fixable ELSE 0 END)`);
  const cols = counts.flatMap((s) => [`n_${s}`, `f_${s}`]);
  return `
  INSERT INTO images (id, registry, repository, digest, tags, first_seen_at, last_pushed_at)
    SELECT 'img' || CAST(k AS TEXT), CASE WHEN k % 10 = 0 THEN 'mirror.example.com' ELSE 'registry.example.com' END,
      'team' || CAST(k % 25 AS TEXT) || '/service' || CAST(k % 500 AS TEXT), ${digest('k')},
      '["latest", "v' || CAST(k % 40 AS TEXT) || '"]', '2025-01-01T00:00:00.000Z',
      CASE WHEN k % 10 < 7 THEN '2025-02-' || substr('0' || CAST(1 + k % 28 AS TEXT), length('0' || CAST(1 + k % 28 AS TEXT)) - 1) || 'T00:00:00.000Z' ELSE NULL END
    FROM ${series.replace('$N', String(IMAGES))};
  INSERT INTO findings (digest, vuln_id, package_id, aliases, package_name, package_version, package_type, purl, severity_rank, fixable, fixed_versions, kev, epss, layer_digest, title)
    SELECT ${digest(`k % ${SCANNED}`)}, 'CVE-' || CAST(${v} AS TEXT), 'p' || CAST(k AS TEXT), '[]', 'pkg' || CAST(k % 300 AS TEXT), '1.0', 'deb',
      'pkg:deb/debian/pkg' || CAST(k % 300 AS TEXT) || '@1.0', ${rank}, CASE WHEN k % 5 < 2 THEN 1 ELSE 0 END,
      CASE WHEN k % 5 < 2 THEN '["1.1"]' ELSE '[]' END, CASE WHEN ${v} % 97 = 0 THEN 1 ELSE 0 END,
      CASE WHEN ${v} % 2 = 0 THEN CAST(${v} % 1000 AS REAL) / 1000 ELSE NULL END, NULL, 'a vulnerability'
    FROM ${series.replace('$N', String(FINDINGS))};
  INSERT INTO digests (digest, scan_id, scanned_at, packages, total, fixable, max_rank, ${cols.join(', ')})
    SELECT digest, NULL, '2025-03-01T00:00:00.000Z', COUNT(DISTINCT package_id), COUNT(*), SUM(fixable), MAX(severity_rank),
      ${counts.map((s, i) => `${n[i]}, ${f[i]}`).join(', ')}
    FROM findings GROUP BY digest;
  INSERT INTO digests (digest, scan_id, scanned_at, packages, total, fixable, max_rank)
    SELECT digest, NULL, '2025-03-02T00:00:00.000Z', 0, 0, 0, -1 FROM images WHERE id IN
      (SELECT 'img' || CAST(${SCANNED} + k AS TEXT) FROM ${series.replace('$N', String(CLEAN))});
  INSERT INTO vulnerabilities (vuln_id, severity_rank, aliases, title, kev, epss, affected_images, fixable_images, affected_packages, updated_at)
    SELECT vuln_id, MAX(severity_rank), MAX(aliases), MAX(title), MAX(kev), MAX(epss), COUNT(DISTINCT digest),
      COUNT(DISTINCT CASE WHEN fixable = 1 THEN digest END), COUNT(DISTINCT purl), '2025-03-01T00:00:00.000Z'
    FROM findings GROUP BY vuln_id`;
}

/** What findings.ts and images.ts maintain on every write, done once in bulk (schema version >= 2). */
function syncSql() {
  const cols = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'].flatMap((s) => [`n_${s}`, `f_${s}`]);
  return `
  UPDATE images SET (scan_id, scanned_at, scanned_key, packages, total, fixable, max_rank, ${cols.join(', ')}) =
    (SELECT d.scan_id, d.scanned_at, d.scanned_at, d.packages, d.total, d.fixable, d.max_rank, ${cols.map((c) => `d.${c}`).join(', ')}
     FROM digests d WHERE d.digest = images.digest)
  WHERE digest IN (SELECT digest FROM digests);
  UPDATE images SET pushed_key = last_pushed_at WHERE last_pushed_at IS NOT NULL;
  UPDATE vulnerabilities SET epss_key = epss WHERE epss IS NOT NULL`;
}

const SQLITE_SERIES = `(WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k + 1 < $N) SELECT k FROM s) AS s`;
const PG_SERIES = `generate_series(0, $N - 1) AS k`;

async function schemaVersion(s) {
  return (await s.migrationStatus()).version;
}

// ---------- requests ----------

/**
 * The mix, as [weight, name, endpoint, query, walk]. `walk`: follow nextCursor across
 * consecutive uses (later pages by keyset), restarting at page 1 after 10 pages.
 */
const MIX = {
  images: [
    [4, 'first page (severity)', {}, false],
    [3, 'next pages by keyset (severity)', {}, true],
    [1, 'by repository, keyset', { sort: 'repository', order: 'asc' }, true],
    [1, 'by last scanned', { sort: 'lastScanned' }, false],
    [1, 'by last pushed', { sort: 'lastPushed' }, false],
    [1, 'by total', { sort: 'total' }, false],
    [1, 'critical,high + fixable', { severity: 'critical,high', fixable: 'true' }, true],
    [1, 'not fixable', { fixable: 'false' }, false],
    [1, 'text search', { q: 'service12' }, false],
    [1, 'text search, rare', { q: 'team3/service403' }, false],
    [1, 'registry', { registry: 'mirror.example.com' }, true],
    [1, 'repository', { repository: 'team7/service257' }, false],
    [1, 'deep keyset page', { deep: true }, false],
  ],
  vulnerabilities: [
    [4, 'first page (severity)', {}, false],
    [3, 'next pages by keyset (severity)', {}, true],
    [1, 'by affected images, keyset', { sort: 'affectedImages' }, true],
    [1, 'by epss', { sort: 'epss' }, false],
    [1, 'by id', { sort: 'id' }, false],
    [1, 'critical', { severity: 'critical' }, false],
    [1, 'KEV', { kev: 'true' }, false],
    [1, 'KEV + fixable', { kev: 'true', fixable: 'true' }, false],
    [1, 'not fixable', { fixable: 'false' }, true],
    [1, 'high + fixable, by affected images', { severity: 'high', fixable: 'true', sort: 'affectedImages' }, false],
    [1, 'id prefix', { id: 'CVE-123*' }, false],
  ],
};

/** One fetcher per transport: (endpoint, query) -> page. */
function httpFetcher(baseUrl, token) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return (endpoint, query) =>
    new Promise((resolvePage, reject) => {
      const qs = new URLSearchParams(query).toString();
      const req = http.get(
        `${baseUrl}/api/v1/${endpoint}${qs ? `?${qs}` : ''}`,
        { agent, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200)
              reject(new Error(`${endpoint}?${qs}: HTTP ${res.statusCode} ${body.slice(0, 300)}`));
            else resolvePage(JSON.parse(body));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
}

function storageFetcher(storage) {
  const bools = (v) => (v === undefined ? undefined : v === 'true');
  return (endpoint, q) => {
    const common = {
      ...(q.sort ? { sort: q.sort } : {}),
      ...(q.order ? { order: q.order } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
      ...(q.severity ? { severity: q.severity.split(',') } : {}),
      ...(q.fixable !== undefined ? { fixable: bools(q.fixable) } : {}),
      limit: q.limit ? Number(q.limit) : 50,
    };
    if (endpoint === 'images')
      return storage.images.list({
        ...common,
        ...(q.q ? { text: q.q } : {}),
        ...(q.registry ? { registry: q.registry } : {}),
        ...(q.repository ? { repository: q.repository } : {}),
      });
    return storage.vulnerabilities.list({
      ...common,
      ...(q.kev !== undefined ? { kev: bools(q.kev) } : {}),
      ...(q.id ? { id: q.id } : {}),
    });
  };
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? 0 };
}

const fmt = (x) => x.toFixed(1);

async function measure(label, fetchPage) {
  const results = {};
  for (const [endpoint, mix] of Object.entries(MIX)) {
    // A cursor about 100 pages deep (5,000 rows by repository), found by walking there once.
    let deepCursor;
    if (endpoint === 'images') {
      let page = await fetchPage('images', { sort: 'repository', order: 'asc', limit: '500' });
      for (let i = 0; i < 9 && page.nextCursor; i++)
        page = await fetchPage('images', { sort: 'repository', order: 'asc', limit: '500', cursor: page.nextCursor });
      deepCursor = page.nextCursor;
    }
    const plan = mix.flatMap((m) => Array(m[0]).fill(m));
    const cursors = new Map();
    const walked = new Map();
    const byName = new Map();
    const all = [];
    const one = async (m, record) => {
      const [, name, base, walk] = m;
      const query = { ...base };
      if (query.deep) {
        delete query.deep;
        Object.assign(query, { sort: 'repository', order: 'asc', ...(deepCursor ? { cursor: deepCursor } : {}) });
      }
      const cursor = walk ? cursors.get(name) : undefined;
      if (cursor) query.cursor = cursor;
      const t = performance.now();
      const page = await fetchPage(endpoint, query);
      const ms = performance.now() - t;
      if (walk) {
        const depth = (walked.get(name) ?? 0) + 1;
        const restart = !page.nextCursor || depth >= 10;
        walked.set(name, restart ? 0 : depth);
        if (restart) cursors.delete(name);
        else cursors.set(name, page.nextCursor);
      }
      if (!record) return;
      all.push(ms);
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push(ms);
    };
    for (let i = 0; i < 40; i++) await one(plan[i % plan.length], false); // warm-up
    for (let i = 0; i < REQUESTS; i++) await one(plan[i % plan.length], true);
    for (const [name, ms] of byName) {
      const s = stats(ms);
      console.log(`  ${label} ${endpoint} ${name}: n ${s.n}, p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms`);
    }
    results[endpoint] = stats(all);
  }
  return results;
}

async function serve(storage) {
  if (!viaHttp) return { fetchPage: storageFetcher(storage), close: async () => undefined };
  const app = serverMod.createApp({
    storage,
    clock: systemClock,
    scanQueue: serverMod.createScanQueue(storage, { allowLocalSources: false }),
    vulnDbStatus: () => ({ loaded: true, path: 'bench', builtAt: null, error: null }),
    logger: false,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address();
  const token = (await storage.tokens.create({ name: 'bench', role: 'reader' })).token;
  return { fetchPage: httpFetcher(`http://127.0.0.1:${port}`, token), close: () => app.close() };
}

async function runBackend(label, open, load) {
  let t = performance.now();
  let storage = await open();
  const version = await schemaVersion(storage);
  await storage.close();
  await load(version);
  console.log(
    `${label}: loaded ${IMAGES} images, ${FINDINGS} findings (schema v${version}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  storage = await open();
  const server = await serve(storage);
  try {
    t = performance.now();
    const r = await measure(label, server.fetchPage);
    for (const [endpoint, s] of Object.entries(r))
      console.log(`api ${endpoint} p50 (${label}): ${fmt(s.p50)} ms; p99: ${fmt(s.p99)} ms over ${s.n} requests`);
    for (const [endpoint, s] of Object.entries(r))
      console.log(`api ${endpoint} p99 (${label}): ${fmt(s.p99)} ms (target <= 50)`);
  } finally {
    await server.close();
    await storage.close();
  }
}

async function embedded() {
  const dir = join(work, 'api-embedded');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    await runBackend(
      'embedded',
      () => storageMod.openStorage({ dataDir: dir, secretKey: KEY }),
      async (version) => {
        const db = new Database(join(dir, 'palisade.sqlite'));
        db.exec(`BEGIN; ${seedSql(SQLITE_SERIES, (k) => k)}; ${version >= 2 ? `${syncSql()};` : ''} COMMIT; ANALYZE;`);
        db.close();
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres() {
  const schema = `palisade_bench_api_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    await runBackend(
      'postgres',
      () => storageMod.openStorage({ databaseUrl: PG_URL, schema, secretKey: KEY }),
      async (version) => {
        await admin.query(`SET search_path TO ${schema}`);
        await admin.query(
          `BEGIN; ${seedSql(PG_SERIES, (k) => `CAST(${k} AS BIGINT)`)}; ${version >= 2 ? `${syncSql()};` : ''} COMMIT`,
        );
        await admin.query('VACUUM ANALYZE');
        await admin.query('RESET search_path');
      },
    );
  } finally {
    if (process.env.PALISADE_BENCH_KEEP_SCHEMA === '1') console.log(`kept schema ${schema} (drop it yourself)`);
    else await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

console.log(
  `bench api: ${IMAGES} images, ${FINDINGS} findings, ${VULNS} vulnerabilities; ${REQUESTS} requests per endpoint per backend; ` +
    (viaHttp
      ? 'measured through HTTP (createApp on 127.0.0.1, bearer token, keep-alive, one request at a time)'
      : 'STORAGE-LEVEL: this build has no createApp, so storage calls are timed, not HTTP requests'),
);
if (ONLY !== 'postgres') await embedded();
if (ONLY !== 'embedded') await postgres();
