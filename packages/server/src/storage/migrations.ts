/**
 * Numbered schema migrations, the same SQL on SQLite and PostgreSQL (a portable subset:
 * TEXT/INTEGER/BIGINT/REAL, JSON and ISO-8601 timestamps as TEXT). Each one runs in its own
 * transaction together with its row in `schema_migrations`, so it is applied entirely or not at
 * all. Never edit a released migration: add the next number.
 */
import { PalisadeError, type Clock } from '@palisade/core';
import { lockTx, num, type Database, type SqlExecutor } from './sql.js';
import { CLUSTERS_MIGRATION } from './clusters.js';
import { RUNTIME_ALERTS_SQL } from './alerts.js';
import { ATTACK_PATHS_MIGRATION } from './cluster-attack-paths.js';
import { KUBE_CONTAINERS_SQL } from './kube-containers.js';

export interface Migration {
  version: number;
  name: string;
  /** One or more statements separated by `;`, no parameters. */
  sql: string;
}

export interface MigrationResult {
  /** Versions this call applied (empty when the schema was already current). */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

const INITIAL = `
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  display_prefix TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT,
  revoked_at TEXT
);

CREATE TABLE registries (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  insecure INTEGER NOT NULL DEFAULT 0,
  read_only INTEGER NOT NULL DEFAULT 0,
  publish_results INTEGER NOT NULL DEFAULT 0,
  credentials TEXT,
  webhook_token_hash TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE images (
  id TEXT PRIMARY KEY,
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  first_seen_at TEXT NOT NULL,
  last_pushed_at TEXT,
  last_pulled_at TEXT,
  UNIQUE (registry, repository, digest)
);
CREATE INDEX images_digest ON images (digest);
CREATE INDEX images_repository ON images (repository);

-- One row per scanned digest: the latest scan's counts, so lists never aggregate findings.
CREATE TABLE digests (
  digest TEXT PRIMARY KEY,
  scan_id TEXT,
  scanned_at TEXT NOT NULL,
  packages INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  fixable INTEGER NOT NULL DEFAULT 0,
  max_rank INTEGER NOT NULL DEFAULT -1,
  n_critical INTEGER NOT NULL DEFAULT 0,
  n_high INTEGER NOT NULL DEFAULT 0,
  n_medium INTEGER NOT NULL DEFAULT 0,
  n_low INTEGER NOT NULL DEFAULT 0,
  n_negligible INTEGER NOT NULL DEFAULT 0,
  n_unknown INTEGER NOT NULL DEFAULT 0,
  f_critical INTEGER NOT NULL DEFAULT 0,
  f_high INTEGER NOT NULL DEFAULT 0,
  f_medium INTEGER NOT NULL DEFAULT 0,
  f_low INTEGER NOT NULL DEFAULT 0,
  f_negligible INTEGER NOT NULL DEFAULT 0,
  f_unknown INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE packages (
  digest TEXT NOT NULL,
  package_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  type TEXT NOT NULL,
  purl TEXT NOT NULL,
  licenses TEXT NOT NULL DEFAULT '[]',
  layer_digest TEXT,
  PRIMARY KEY (digest, package_id)
);

CREATE TABLE findings (
  digest TEXT NOT NULL,
  vuln_id TEXT NOT NULL,
  package_id TEXT NOT NULL,
  aliases TEXT NOT NULL DEFAULT '[]',
  package_name TEXT NOT NULL,
  package_version TEXT NOT NULL,
  package_type TEXT NOT NULL,
  purl TEXT NOT NULL,
  severity_rank INTEGER NOT NULL,
  fixable INTEGER NOT NULL,
  fixed_versions TEXT NOT NULL DEFAULT '[]',
  kev INTEGER NOT NULL DEFAULT 0,
  epss REAL,
  epss_percentile REAL,
  layer_digest TEXT,
  title TEXT,
  PRIMARY KEY (digest, vuln_id, package_id)
);
CREATE INDEX findings_vuln ON findings (vuln_id, digest);

-- One row per vulnerability present in some image, maintained when findings are replaced.
CREATE TABLE vulnerabilities (
  vuln_id TEXT PRIMARY KEY,
  severity_rank INTEGER NOT NULL,
  aliases TEXT NOT NULL DEFAULT '[]',
  title TEXT,
  kev INTEGER NOT NULL DEFAULT 0,
  epss REAL,
  affected_images INTEGER NOT NULL,
  fixable_images INTEGER NOT NULL,
  affected_packages INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
-- Each index matches a sort of the list (with the tie-breaker last) so a page is an index range scan.
CREATE INDEX vulnerabilities_rank ON vulnerabilities (severity_rank, affected_images, vuln_id);
CREATE INDEX vulnerabilities_affected ON vulnerabilities (affected_images, severity_rank, vuln_id);

CREATE TABLE scans (
  id TEXT PRIMARY KEY,
  image_ref TEXT NOT NULL,
  digest TEXT,
  status TEXT NOT NULL,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  job_id TEXT,
  queued_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  duration_ms INTEGER,
  report TEXT
);
CREATE INDEX scans_digest ON scans (digest, queued_at);
CREATE INDEX scans_status ON scans (status, queued_at);

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  dedupe_key TEXT,
  concurrency_key TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at TEXT NOT NULL,
  locked_by TEXT,
  lease_until TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
);
-- At most one pending or running job per dedupe key; finished ones keep their key as history.
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX jobs_ready ON jobs (status, run_at);
CREATE INDEX jobs_concurrency ON jobs (concurrency_key, status);

-- Images by their worst severity, one row per day, for the trend chart.
CREATE TABLE severity_trend (
  day TEXT PRIMARY KEY,
  images INTEGER NOT NULL,
  critical INTEGER NOT NULL,
  high INTEGER NOT NULL,
  medium INTEGER NOT NULL,
  low INTEGER NOT NULL,
  negligible INTEGER NOT NULL,
  unknown INTEGER NOT NULL,
  clean INTEGER NOT NULL,
  unscanned INTEGER NOT NULL,
  taken_at TEXT NOT NULL
)
`;

const SEVERITY_COLS = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
const COUNT_COLS = SEVERITY_COLS.flatMap((s) => [`n_${s}`, `f_${s}`]);

/**
 * Version 2: the images list read `images LEFT JOIN digests` and sorted by expressions over the
 * join, so every first page sorted all images (p99 ≈ 70 ms at 10,000 images). Now each image row
 * carries its digest's summary and the sort keys as plain NOT NULL columns (NULL-free, so row-value
 * keyset comparisons and ORDER BY agree on both engines), with one index per sort ending in `id`:
 * a page is an index range scan that stops after `limit + 1` rows. findings.ts keeps the copy in
 * step inside the transaction that replaces a digest's findings; images.ts fills it when an image
 * row appears for an already-scanned digest. `digests` stays the source of truth.
 *
 * The vulnerabilities list gets the same for its epss sort (it sorted `COALESCE(epss, -1)`).
 */
const IMAGE_SORT_KEYS = [
  ...[
    'scan_id TEXT',
    'scanned_at TEXT',
    // COALESCE(scanned_at, '') and COALESCE(last_pushed_at, ''): the lastScanned / lastPushed sort keys.
    "scanned_key TEXT NOT NULL DEFAULT ''",
    "pushed_key TEXT NOT NULL DEFAULT ''",
    'packages INTEGER NOT NULL DEFAULT 0',
    'total INTEGER NOT NULL DEFAULT 0',
    'fixable INTEGER NOT NULL DEFAULT 0',
    // -1: never scanned, or clean (as COALESCE(d.max_rank, -1) was).
    'max_rank INTEGER NOT NULL DEFAULT -1',
    ...COUNT_COLS.map((c) => `${c} INTEGER NOT NULL DEFAULT 0`),
  ].map((col) => `ALTER TABLE images ADD COLUMN ${col}`),
  // Row-value SET works on SQLite >= 3.15 and PostgreSQL.
  `UPDATE images SET (scan_id, scanned_at, scanned_key, packages, total, fixable, max_rank, ${COUNT_COLS.join(', ')}) =
     (SELECT d.scan_id, d.scanned_at, d.scanned_at, d.packages, d.total, d.fixable, d.max_rank, ${COUNT_COLS.map((c) => `d.${c}`).join(', ')}
      FROM digests d WHERE d.digest = images.digest)
   WHERE digest IN (SELECT digest FROM digests)`,
  'UPDATE images SET pushed_key = last_pushed_at WHERE last_pushed_at IS NOT NULL',
  // One index per sort of ImageListQuery, columns in the order of the ORDER BY, id last.
  'CREATE INDEX images_by_severity ON images (max_rank, n_critical, n_high, n_medium, n_low, id)',
  'CREATE INDEX images_by_repository ON images (repository, id)',
  'CREATE INDEX images_by_scanned ON images (scanned_key, id)',
  'CREATE INDEX images_by_pushed ON images (pushed_key, id)',
  'CREATE INDEX images_by_total ON images (total, id)',
  // A prefix of images_by_repository: only extra write cost now.
  'DROP INDEX images_repository',
  'ALTER TABLE vulnerabilities ADD COLUMN epss_key REAL NOT NULL DEFAULT -1',
  'UPDATE vulnerabilities SET epss_key = epss WHERE epss IS NOT NULL',
  'CREATE INDEX vulnerabilities_epss ON vulnerabilities (epss_key, vuln_id)',
].join(';\n');

/**
 * Version 3: why a succeeded scan's report could not be published into its registry. It was
 * kept as a `publish: …` warning appended to the stored report, which rewrote the report (the
 * scan's record) and made GET /api/v1/scans/{id} parse megabytes to find one string. Scans from
 * before this version show null (their report still carries the warning).
 */
const PUBLISH_ERROR = 'ALTER TABLE scans ADD COLUMN publish_error TEXT';

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: INITIAL },
  { version: 2, name: 'image list sort keys on images', sql: IMAGE_SORT_KEYS },
  { version: 3, name: 'publish errors on scans', sql: PUBLISH_ERROR },
  { version: 4, name: 'clusters, snapshots and changes', sql: CLUSTERS_MIGRATION },
  { version: 5, name: 'runtime alerts', sql: RUNTIME_ALERTS_SQL },
  { version: 6, name: 'cluster attack paths', sql: ATTACK_PATHS_MIGRATION },
  { version: 7, name: 'runtime container context', sql: KUBE_CONTAINERS_SQL },
];

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/**
 * Bring the schema up to date. Safe to call at every start and from several replicas at once:
 * on PostgreSQL each step holds an advisory lock and re-checks what is applied under it.
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[],
  clock: Clock,
  lockName: string,
): Promise<MigrationResult> {
  checkList(migrations);
  await db.transaction(async (tx) => {
    await lockTx(tx, lockName);
    await tx.exec(BOOKKEEPING);
  });
  const known = migrations.length === 0 ? 0 : Math.max(...migrations.map((m) => m.version));
  const current = await appliedVersions(db);
  const newest = Math.max(0, ...current);
  if (newest > known) {
    throw new PalisadeError(
      'E_DB',
      `database schema is at version ${newest}, newer than this Palisade knows (${known}); upgrade Palisade`,
      {
        subject: 'storage',
      },
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (current.has(m.version)) continue;
    if (await applyOne(db, m, clock, lockName)) applied.push(m.version);
  }
  return { applied, version: Math.max(0, ...(await appliedVersions(db))) };
}

export async function appliedVersions(ex: SqlExecutor): Promise<Set<number>> {
  const rows = await ex.all('SELECT version FROM schema_migrations ORDER BY version');
  return new Set(rows.map((r) => num(r, 'version')));
}

/** Apply one migration unless another process did meanwhile; false when it was already there. */
async function applyOne(db: Database, m: Migration, clock: Clock, lockName: string): Promise<boolean> {
  try {
    return await db.transaction(async (tx) => {
      await lockTx(tx, lockName);
      const done = await tx.all('SELECT version FROM schema_migrations WHERE version = $1', [m.version]);
      if (done.length > 0) return false;
      await tx.exec(m.sql);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        clock.now().toISOString(),
      ]);
      return true;
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PalisadeError('E_DB', `migration ${m.version} (${m.name}) failed and was rolled back: ${why}`, {
      subject: 'storage',
      cause: err,
    });
  }
}

function checkList(migrations: readonly Migration[]): void {
  let last = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new PalisadeError(
        'E_INTERNAL',
        `migrations must have increasing positive integer versions (at ${m.version})`,
        {
          subject: 'storage',
        },
      );
    }
    last = m.version;
  }
}
