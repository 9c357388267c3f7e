/**
 * Connected clusters: the cluster row (kubeconfig sealed with the server key and bound to the
 * cluster id, ingest token stored as a hash), its snapshot records, the changes between
 * complete snapshots, and the inventory and posture findings of the latest complete snapshot.
 *
 * Why the inventory is one row per object of the latest complete snapshot only, and not a blob
 * per snapshot: the inventory API pages and filters it by kind and namespace (an index range
 * scan, instead of inflating and parsing a whole snapshot per page), and the next diff needs only
 * its index (uid, resourceVersion, fingerprint), never the previous bodies. History is the
 * snapshot records (counts, errors) and the changes between them, which is what is read back;
 * keeping every snapshot's bodies would cost ~N times the inventory for data no API serves.
 * Bodies are stored gzip'd per object (base64 TEXT, the portable type): 1.3-1.4x smaller than
 * their JSON on the recorded fixture (docs/clusters.md has the figures).
 */
import { randomUUID } from 'node:crypto';
import { PalisadeError, SEVERITIES, isSeverity, type PssFinding } from '@palisade/core';
import { generateToken, hashToken, looksLikeToken, tokenMatches } from '../secrets/tokens.js';
import type {
  AttackPathQuery,
  ChangeCounts,
  ChangeInput,
  ChangeType,
  Cluster,
  ClusterAttackPath,
  ClusterAttackPathInput,
  ClusterChange,
  ClusterErrorCode,
  ClusterFinding,
  ClusterFindingInput,
  ClusterRepository,
  ClusterSnapshot,
  ClusterStatus,
  InventoryIndexEntry,
  InventoryObject,
  InventoryObjectInput,
  SnapshotRecordInput,
} from './cluster-types.js';
import {
  ATTACK_TARGET_KINDS,
  CLUSTER_ERROR_CODES,
  DEFAULT_SNAPSHOT_INTERVAL_SECONDS,
  DEFAULT_SNAPSHOTS_KEPT,
} from './cluster-types.js';
import { imageVulnerabilities } from './cluster-attack-paths.js';
import { nowIso, type RepoContext } from './context.js';
import { clampLimit, clampOffset, cursorOf, keyset, likeContains } from './paging.js';
import {
  bool,
  first,
  isUniqueViolation,
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
import { required } from './tokens.js';
import type { Page } from './types.js';

/** Migration 4. Timestamps are ISO-8601 TEXT; JSON columns are TEXT; namespace '' = cluster-scoped. */
export const CLUSTERS_MIGRATION = `
CREATE TABLE clusters (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kubeconfig TEXT,
  context TEXT,
  ingest_token_hash TEXT UNIQUE,
  ingest_token_prefix TEXT,
  interval_seconds INTEGER NOT NULL,
  last_attempt_at TEXT,
  last_snapshot_id TEXT,
  last_snapshot_at TEXT,
  last_complete_snapshot_id TEXT,
  last_complete_snapshot_at TEXT,
  last_error TEXT,
  last_error_code TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE cluster_snapshots (
  id TEXT PRIMARY KEY,
  cluster_id TEXT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  taken_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  complete INTEGER NOT NULL,
  errors TEXT NOT NULL DEFAULT '[]',
  not_served TEXT NOT NULL DEFAULT '[]',
  counts TEXT NOT NULL DEFAULT '{}',
  objects INTEGER NOT NULL,
  n_added INTEGER,
  n_removed INTEGER,
  n_modified INTEGER,
  findings INTEGER
);
CREATE INDEX cluster_snapshots_by_time ON cluster_snapshots (cluster_id, taken_at, id);

-- The latest complete snapshot's objects: one row each, replaced whole by the next complete one.
CREATE TABLE cluster_objects (
  cluster_id TEXT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  snapshot_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  api_version TEXT NOT NULL,
  uid TEXT,
  resource_version TEXT,
  created_at TEXT,
  labels TEXT NOT NULL DEFAULT '{}',
  summary TEXT NOT NULL DEFAULT '{}',
  fingerprint TEXT NOT NULL DEFAULT '{}',
  body TEXT NOT NULL,
  PRIMARY KEY (cluster_id, kind, namespace, name)
);
CREATE INDEX cluster_objects_by_namespace ON cluster_objects (cluster_id, namespace, kind, name);

CREATE TABLE cluster_changes (
  cluster_id TEXT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  snapshot_id TEXT NOT NULL REFERENCES cluster_snapshots (id) ON DELETE CASCADE,
  taken_at TEXT NOT NULL,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  api_version TEXT NOT NULL,
  change_type TEXT NOT NULL,
  summary TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, kind, namespace, name, change_type)
);
CREATE INDEX cluster_changes_by_time ON cluster_changes (cluster_id, taken_at, snapshot_id, kind, namespace, name, change_type);

-- Posture findings of the latest complete snapshot; severity_order 0 = critical (ascending = worst first).
CREATE TABLE cluster_findings (
  cluster_id TEXT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  snapshot_id TEXT NOT NULL,
  check_id TEXT NOT NULL,
  check_version INTEGER NOT NULL,
  title TEXT NOT NULL,
  severity_order INTEGER NOT NULL,
  api_version TEXT,
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  message TEXT NOT NULL,
  remediation TEXT NOT NULL,
  frameworks TEXT NOT NULL DEFAULT '{}',
  pss TEXT,
  PRIMARY KEY (cluster_id, id)
);
CREATE INDEX cluster_findings_by_severity ON cluster_findings (cluster_id, severity_order, check_id, namespace, kind, name, id);
CREATE INDEX cluster_findings_by_check ON cluster_findings (cluster_id, check_id, severity_order, namespace, kind, name, id)
`;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const MIN_INTERVAL_SECONDS = 60;
export const MAX_INTERVAL_SECONDS = 7 * 86_400;
/** Rows per multi-row INSERT: well under SQLite's bound-parameter limit. */
const BATCH = 100;

const INVENTORY_SORT = ['kind', 'namespace', 'name'];
const CHANGES_SORT = ['taken_at', 'snapshot_id', 'kind', 'namespace', 'name', 'change_type'];
const FINDINGS_SORT = ['severity_order', 'check_id', 'namespace', 'kind', 'name', 'id'];
const ATTACK_PATHS_SORT = ['path_rank', 'id'];

export function createClusterRepository(ctx: RepoContext): ClusterRepository {
  const { ex } = ctx;
  const get = async (id: string): Promise<Cluster | null> => {
    const row = await first(ex, 'SELECT * FROM clusters WHERE id = $1', [id]);
    return row ? toCluster(row) : null;
  };

  return {
    async create(input) {
      validateName(input.name);
      const interval = validateInterval(input.intervalSeconds ?? DEFAULT_SNAPSHOT_INTERVAL_SECONDS);
      if (input.kubeconfig === undefined && input.context !== undefined)
        throw new PalisadeError('E_INPUT', 'a context needs a kubeconfig', { subject: 'context' });
      const id = randomUUID();
      const token = generateToken('in');
      const now = nowIso(ctx);
      let row: Row | undefined;
      try {
        row = await first(
          ex,
          `INSERT INTO clusters (id, name, kubeconfig, context, ingest_token_hash, ingest_token_prefix, interval_seconds, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
          [
            id,
            input.name,
            input.kubeconfig === undefined ? null : ctx.box.seal(input.kubeconfig, sealContext(id)),
            input.kubeconfig === undefined ? null : (input.context ?? null),
            hashToken(token),
            ingestPrefix(token),
            interval,
            now,
          ],
        );
      } catch (err) {
        if (isUniqueViolation(err))
          throw new PalisadeError('E_INPUT', 'a cluster with this name exists', { subject: input.name, cause: err });
        throw err;
      }
      return { cluster: toCluster(required(row)), ingestToken: token };
    },

    get,

    async getByName(name) {
      const row = await first(ex, 'SELECT * FROM clusters WHERE name = $1', [name]);
      return row ? toCluster(row) : null;
    },

    async list() {
      return (await ex.all('SELECT * FROM clusters ORDER BY name')).map(toCluster);
    },

    async delete(id) {
      return ex.transaction(async (tx) => {
        // Explicit, not only ON DELETE CASCADE: SQLite enforces foreign keys per connection setting.
        for (const table of [
          'cluster_attack_paths',
          'cluster_findings',
          'cluster_objects',
          'cluster_changes',
          'cluster_snapshots',
        ])
          await tx.run(`DELETE FROM ${table} WHERE cluster_id = $1`, [id]);
        return (await tx.run('DELETE FROM clusters WHERE id = $1', [id])) > 0;
      });
    },

    async kubeconfig(id) {
      const row = await first(ex, 'SELECT kubeconfig FROM clusters WHERE id = $1', [id]);
      const sealed = row ? optStr(row, 'kubeconfig') : null;
      return sealed === null ? null : ctx.box.open(sealed, sealContext(id));
    },

    async rotateIngestToken(id) {
      const token = generateToken('in');
      const n = await ex.run(
        'UPDATE clusters SET ingest_token_hash = $1, ingest_token_prefix = $2, updated_at = $3 WHERE id = $4',
        [hashToken(token), ingestPrefix(token), nowIso(ctx), id],
      );
      if (n === 0) throw new PalisadeError('E_NOT_FOUND', 'no such cluster', { subject: id });
      return token;
    },

    async verifyIngestToken(plaintext) {
      if (!looksLikeToken(plaintext)) return null;
      // Looked up by hash (an index lookup reveals nothing usable), then compared in constant time.
      const row = await first(ex, 'SELECT * FROM clusters WHERE ingest_token_hash = $1', [hashToken(plaintext)]);
      if (!row) return null;
      const hash = optStr(row, 'ingest_token_hash');
      return hash !== null && tokenMatches(plaintext, hash) ? toCluster(row) : null;
    },

    async setStatus(id, update) {
      const row = await first(
        ex,
        `UPDATE clusters SET last_attempt_at = $2, last_error_code = $3, last_error = $4, updated_at = $5
         WHERE id = $1 RETURNING *`,
        [id, update.attemptAt, update.errorCode, update.error, nowIso(ctx)],
      );
      return row ? toCluster(row) : null;
    },

    recordSnapshot: (input) => ex.transaction((tx) => recordSnapshot(ctx, tx, input)),

    async snapshot(id) {
      const row = await first(ex, 'SELECT * FROM cluster_snapshots WHERE id = $1', [id]);
      return row ? toSnapshot(row) : null;
    },

    async latestSnapshot(clusterId, options = {}) {
      const row = await first(
        ex,
        `SELECT * FROM cluster_snapshots WHERE cluster_id = $1${options.complete ? ' AND complete = 1' : ''}
         ORDER BY taken_at DESC, id DESC LIMIT 1`,
        [clusterId],
      );
      return row ? toSnapshot(row) : null;
    },

    async listSnapshots(clusterId, page = {}) {
      const limit = clampLimit(page.limit);
      const offset = clampOffset(page.offset);
      const total = num(
        required(await first(ex, 'SELECT COUNT(*) AS n FROM cluster_snapshots WHERE cluster_id = $1', [clusterId])),
        'n',
      );
      const rows = await ex.all(
        `SELECT * FROM cluster_snapshots WHERE cluster_id = $1 ORDER BY taken_at DESC, id DESC LIMIT ${limit} OFFSET ${offset}`,
        [clusterId],
      );
      return { items: rows.map(toSnapshot), total, nextCursor: null };
    },

    async inventoryIndex(clusterId) {
      const rows = await ex.all(
        `SELECT api_version, kind, namespace, name, uid, resource_version, fingerprint FROM cluster_objects
         WHERE cluster_id = $1 ORDER BY kind, namespace, name`,
        [clusterId],
      );
      return rows.map((r): InventoryIndexEntry => ({
        apiVersion: str(r, 'api_version'),
        kind: str(r, 'kind'),
        namespace: namespaceOut(r),
        name: str(r, 'name'),
        uid: optStr(r, 'uid'),
        resourceVersion: optStr(r, 'resource_version'),
        fingerprint: jsonRecord(r, 'fingerprint') as Record<string, string>,
      }));
    },

    async inventory(clusterId, q = {}) {
      const p = new Params();
      const where = [`cluster_id = ${p.add(clusterId)}`];
      if (q.kind !== undefined) where.push(`kind = ${p.add(q.kind)}`);
      if (q.namespace !== undefined) where.push(`namespace = ${p.add(q.namespace)}`);
      if (q.name !== undefined) where.push(`LOWER(name) LIKE ${p.add(likeContains(q.name))} ESCAPE '\\'`);
      return pageOf(ex, 'cluster_objects', where, p, INVENTORY_SORT, 'asc', q, toInventoryObject);
    },

    async inventoryCounts(clusterId) {
      const rows = await ex.all(
        'SELECT kind, COUNT(*) AS n FROM cluster_objects WHERE cluster_id = $1 GROUP BY kind ORDER BY kind',
        [clusterId],
      );
      return Object.fromEntries(rows.map((r) => [str(r, 'kind'), num(r, 'n')]));
    },

    async changes(clusterId, q = {}) {
      const p = new Params();
      const where = [`cluster_id = ${p.add(clusterId)}`];
      if (q.snapshotId !== undefined) where.push(`snapshot_id = ${p.add(q.snapshotId)}`);
      if (q.since !== undefined) where.push(`taken_at >= ${p.add(isoOrThrow(q.since, 'since'))}`);
      if (q.kind !== undefined) where.push(`kind = ${p.add(q.kind)}`);
      if (q.namespace !== undefined) where.push(`namespace = ${p.add(q.namespace)}`);
      if (q.change !== undefined) where.push(`change_type = ${p.add(q.change)}`);
      return pageOf(ex, 'cluster_changes', where, p, CHANGES_SORT, 'desc', q, toChange);
    },

    async findings(clusterId, q = {}) {
      const p = new Params();
      const where = [`cluster_id = ${p.add(clusterId)}`];
      if (q.severity !== undefined && q.severity.length > 0) {
        for (const s of q.severity)
          if (!isSeverity(s))
            throw new PalisadeError('E_INPUT', `severity must be one of ${SEVERITIES.join(', ')}`, { subject: s });
        where.push(`severity_order IN (${p.list(q.severity.map(severityOrder))})`);
      }
      if (q.checkId !== undefined) where.push(`check_id = ${p.add(q.checkId)}`);
      if (q.namespace !== undefined) where.push(`namespace = ${p.add(q.namespace)}`);
      if (q.kind !== undefined) where.push(`kind = ${p.add(q.kind)}`);
      return pageOf(ex, 'cluster_findings', where, p, FINDINGS_SORT, 'asc', q, toFinding);
    },

    async attackPaths(clusterId, q: AttackPathQuery = {}) {
      const p = new Params();
      const where = [`cluster_id = ${p.add(clusterId)}`];
      if (q.severity !== undefined && q.severity.length > 0) {
        for (const s of q.severity)
          if (!isSeverity(s))
            throw new PalisadeError('E_INPUT', `severity must be one of ${SEVERITIES.join(', ')}`, { subject: s });
        where.push(`severity_order IN (${p.list(q.severity.map(severityOrder))})`);
      }
      if (q.namespace !== undefined) where.push(`namespace = ${p.add(q.namespace)}`);
      if (q.target !== undefined) {
        if (!(ATTACK_TARGET_KINDS as readonly string[]).includes(q.target))
          throw new PalisadeError('E_INPUT', `target must be one of ${ATTACK_TARGET_KINDS.join(', ')}`, {
            subject: 'target',
          });
        where.push(`target_kind = ${p.add(q.target)}`);
      }
      return pageOf(ex, 'cluster_attack_paths', where, p, ATTACK_PATHS_SORT, 'asc', q, toAttackPath);
    },

    imageVulnerabilities: (input) => imageVulnerabilities(ex, input),
  };
}

async function recordSnapshot(ctx: RepoContext, tx: SqlExecutor, input: SnapshotRecordInput): Promise<ClusterSnapshot> {
  // One recording per cluster at a time, across replicas (the job queue already makes this rare).
  await lockTx(tx, `${ctx.lockPrefix}.cluster.${input.clusterId}`);
  const cluster = await first(tx, 'SELECT id, last_complete_snapshot_id FROM clusters WHERE id = $1', [
    input.clusterId,
  ]);
  if (!cluster) throw new PalisadeError('E_NOT_FOUND', 'no such cluster', { subject: input.clusterId });
  const id = randomUUID();
  const objects = Object.values(input.counts).reduce((a, b) => a + b, 0);
  const changes = input.complete && input.changes ? countChanges(input.changes) : null;
  const findings = input.complete ? (input.findings?.length ?? 0) : null;
  const attackPaths = input.complete ? (input.attackPaths?.length ?? 0) : null;
  const durationMs = Math.max(0, Date.parse(input.finishedAt) - Date.parse(input.takenAt));
  await tx.run(
    `INSERT INTO cluster_snapshots (id, cluster_id, taken_at, finished_at, duration_ms, complete, errors, not_served,
       counts, objects, n_added, n_removed, n_modified, findings, attack_paths)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      id,
      input.clusterId,
      input.takenAt,
      input.finishedAt,
      durationMs,
      input.complete,
      JSON.stringify(input.errors),
      JSON.stringify(input.notServed),
      JSON.stringify(sortedRecord(input.counts)),
      objects,
      changes?.added ?? null,
      changes?.removed ?? null,
      changes?.modified ?? null,
      findings,
      attackPaths,
    ],
  );
  if (input.complete) {
    await replaceInventory(tx, input.clusterId, id, input.objects ?? []);
    await insertChanges(tx, input.clusterId, id, input.takenAt, input.changes ?? []);
    await replaceFindings(tx, input.clusterId, id, input.findings ?? []);
    await replaceAttackPaths(tx, input.clusterId, id, input.attackPaths ?? []);
  }
  await tx.run(
    `UPDATE clusters SET last_snapshot_id = $2, last_snapshot_at = $3,
       last_complete_snapshot_id = CASE WHEN $4 = 1 THEN $2 ELSE last_complete_snapshot_id END,
       last_complete_snapshot_at = CASE WHEN $4 = 1 THEN $3 ELSE last_complete_snapshot_at END,
       updated_at = $5
     WHERE id = $1`,
    [input.clusterId, id, input.takenAt, input.complete ? 1 : 0, nowIso(ctx)],
  );
  await prune(tx, input.clusterId, input.keep ?? DEFAULT_SNAPSHOTS_KEPT);
  return toSnapshot(required(await first(tx, 'SELECT * FROM cluster_snapshots WHERE id = $1', [id])));
}

/** Keep the `keep` newest snapshots and the one the inventory came from; their changes go with them. */
async function prune(tx: SqlExecutor, clusterId: string, keep: number): Promise<void> {
  if (!Number.isInteger(keep) || keep < 1)
    throw new PalisadeError('E_INPUT', 'snapshots kept must be a positive integer', { subject: 'keep' });
  const inventory = optStr(
    required(await first(tx, 'SELECT last_complete_snapshot_id FROM clusters WHERE id = $1', [clusterId])),
    'last_complete_snapshot_id',
  );
  const old = await tx.all(
    `SELECT id FROM cluster_snapshots WHERE cluster_id = $1 ORDER BY taken_at DESC, id DESC LIMIT 100000 OFFSET ${keep}`,
    [clusterId],
  );
  // The inventory's snapshot is never pruned (after a run of incomplete ones, keep + 1 remain).
  const ids = old.map((r) => str(r, 'id')).filter((id) => id !== inventory);
  for (let i = 0; i < ids.length; i += BATCH) {
    const p = new Params();
    const list = p.list(ids.slice(i, i + BATCH));
    await tx.run(`DELETE FROM cluster_changes WHERE snapshot_id IN (${list})`, p.values);
    await tx.run(`DELETE FROM cluster_snapshots WHERE id IN (${list})`, p.values);
  }
}

async function replaceInventory(
  tx: SqlExecutor,
  clusterId: string,
  snapshotId: string,
  objects: Iterable<InventoryObjectInput>,
): Promise<void> {
  await tx.run('DELETE FROM cluster_objects WHERE cluster_id = $1', [clusterId]);
  const cols =
    'cluster_id, snapshot_id, kind, namespace, name, api_version, uid, resource_version, created_at, labels, summary, fingerprint, body';
  let batch: SqlValue[][] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await insertRows(tx, 'cluster_objects', cols, batch, ' ON CONFLICT DO NOTHING');
    batch = [];
  };
  for (const o of objects) {
    batch.push([
      clusterId,
      snapshotId,
      o.kind,
      o.namespace ?? '',
      o.name,
      o.apiVersion,
      o.uid,
      o.resourceVersion,
      o.createdAt,
      JSON.stringify(o.labels),
      JSON.stringify(o.summary),
      JSON.stringify(o.fingerprint),
      o.body,
    ]);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}

async function insertChanges(
  tx: SqlExecutor,
  clusterId: string,
  snapshotId: string,
  takenAt: string,
  changes: readonly ChangeInput[],
): Promise<void> {
  const cols = 'cluster_id, snapshot_id, taken_at, kind, namespace, name, api_version, change_type, summary';
  for (let i = 0; i < changes.length; i += BATCH) {
    const rows = changes
      .slice(i, i + BATCH)
      .map((c) => [
        clusterId,
        snapshotId,
        takenAt,
        c.kind,
        c.namespace ?? '',
        c.name,
        c.apiVersion,
        c.change,
        c.summary,
      ]);
    await insertRows(tx, 'cluster_changes', cols, rows, ' ON CONFLICT DO NOTHING');
  }
}

async function replaceFindings(
  tx: SqlExecutor,
  clusterId: string,
  snapshotId: string,
  findings: readonly ClusterFindingInput[],
): Promise<void> {
  await tx.run('DELETE FROM cluster_findings WHERE cluster_id = $1', [clusterId]);
  const cols =
    'cluster_id, id, snapshot_id, check_id, check_version, title, severity_order, api_version, kind, namespace, name, path, message, remediation, frameworks, pss';
  for (let i = 0; i < findings.length; i += BATCH) {
    const rows = findings
      .slice(i, i + BATCH)
      .map((f) => [
        clusterId,
        f.id,
        snapshotId,
        f.checkId,
        f.checkVersion,
        f.title,
        severityOrder(f.severity),
        f.apiVersion,
        f.kind,
        f.namespace ?? '',
        f.name,
        f.path,
        f.message,
        f.remediation,
        JSON.stringify(f.frameworks),
        f.pss === null ? null : JSON.stringify(f.pss),
      ]);
    // The same check on the same field of the same object is one finding.
    await insertRows(tx, 'cluster_findings', cols, rows, ' ON CONFLICT DO NOTHING');
  }
}

async function replaceAttackPaths(
  tx: SqlExecutor,
  clusterId: string,
  snapshotId: string,
  paths: readonly ClusterAttackPathInput[],
): Promise<void> {
  await tx.run('DELETE FROM cluster_attack_paths WHERE cluster_id = $1', [clusterId]);
  const cols =
    'cluster_id, id, snapshot_id, path_rank, score, severity_order, namespace, target_kind, explanation, body';
  for (let i = 0; i < paths.length; i += BATCH) {
    const rows = paths
      .slice(i, i + BATCH)
      .map((a) => [
        clusterId,
        a.id,
        snapshotId,
        a.rank,
        a.score,
        severityOrder(a.severity),
        a.workload.namespace ?? '',
        a.target.kind,
        a.explanation,
        JSON.stringify(a),
      ]);
    // One chain of steps is one path (its id is the chain's hash).
    await insertRows(tx, 'cluster_attack_paths', cols, rows, ' ON CONFLICT DO NOTHING');
  }
}

async function insertRows(
  tx: SqlExecutor,
  table: string,
  cols: string,
  rows: readonly (readonly SqlValue[])[],
  suffix = '',
): Promise<void> {
  if (rows.length === 0) return;
  const p = new Params();
  const values = rows.map((r) => `(${r.map((v) => p.add(v)).join(', ')})`).join(', ');
  await tx.run(`INSERT INTO ${table} (${cols}) VALUES ${values}${suffix}`, p.values);
}

async function pageOf<T>(
  ex: SqlExecutor,
  table: string,
  where: string[],
  p: Params,
  sort: readonly string[],
  order: 'asc' | 'desc',
  q: { limit?: number; offset?: number; cursor?: string },
  map: (row: Row) => T,
): Promise<Page<T>> {
  const limit = clampLimit(q.limit);
  const total = num(
    required(await first(ex, `SELECT COUNT(*) AS n FROM ${table} WHERE ${where.join(' AND ')}`, p.values)),
    'n',
  );
  const ks = keyset(sort, order, q.cursor, p);
  const offset = q.cursor === undefined ? clampOffset(q.offset) : 0;
  const rows = await ex.all(
    `SELECT ${ks.select}, ${table}.* FROM ${table} WHERE ${[...where, ...(ks.after ? [ks.after] : [])].join(' AND ')}
     ORDER BY ${ks.orderBy} LIMIT ${limit + 1} OFFSET ${offset}`,
    p.values,
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(map),
    total,
    nextCursor: rows.length > limit && last ? cursorOf(last, sort.length) : null,
  };
}

function countChanges(changes: readonly ChangeInput[]): ChangeCounts {
  const out: ChangeCounts = { added: 0, removed: 0, modified: 0 };
  for (const c of changes) out[c.change]++;
  return out;
}

/** 0 = critical … 5 = unknown: ascending order is worst first. */
function severityOrder(s: string): number {
  const i = (SEVERITIES as readonly string[]).indexOf(s);
  return i < 0 ? SEVERITIES.length - 1 : i;
}

/** `pal_in_` and six characters: enough to recognize a token in a list, useless to use it. */
function ingestPrefix(token: string): string {
  return token.slice(0, 'pal_in_'.length + 6);
}

function sealContext(id: string): string {
  return `cluster:${id}`;
}

function validateName(name: string): void {
  if (!NAME_RE.test(name))
    throw new PalisadeError('E_INPUT', 'cluster name must be 1-63 letters, digits, ".", "_" or "-"', { subject: name });
}

function validateInterval(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < MIN_INTERVAL_SECONDS || seconds > MAX_INTERVAL_SECONDS)
    throw new PalisadeError(
      'E_INPUT',
      `snapshot interval must be whole seconds from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}`,
      { subject: 'intervalSeconds' },
    );
  return seconds;
}

function isoOrThrow(s: string, field: string): string {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new PalisadeError('E_INPUT', 'not an ISO-8601 time', { subject: field });
  return new Date(t).toISOString();
}

function sortedRecord(r: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function jsonRecord(row: Row, col: string): Record<string, unknown> {
  const v = optStr(row, col);
  if (v === null) return {};
  const parsed: unknown = JSON.parse(v);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}

function namespaceOut(row: Row): string | null {
  const ns = str(row, 'namespace');
  return ns === '' ? null : ns;
}

function toCluster(row: Row): Cluster {
  const hasKubeconfig = optStr(row, 'kubeconfig') !== null;
  const code = optStr(row, 'last_error_code');
  const errorCode =
    code !== null && (CLUSTER_ERROR_CODES as readonly string[]).includes(code) ? (code as ClusterErrorCode) : null;
  const lastAttemptAt = optStr(row, 'last_attempt_at');
  const status: ClusterStatus = !hasKubeconfig
    ? 'agent_only'
    : lastAttemptAt === null
      ? 'pending'
      : (errorCode ?? 'ok');
  return {
    id: str(row, 'id'),
    name: str(row, 'name'),
    context: optStr(row, 'context'),
    hasKubeconfig,
    intervalSeconds: num(row, 'interval_seconds'),
    ingestTokenPrefix: optStr(row, 'ingest_token_prefix'),
    status,
    lastAttemptAt,
    lastSnapshotId: optStr(row, 'last_snapshot_id'),
    lastSnapshotAt: optStr(row, 'last_snapshot_at'),
    lastCompleteSnapshotId: optStr(row, 'last_complete_snapshot_id'),
    lastCompleteSnapshotAt: optStr(row, 'last_complete_snapshot_at'),
    lastError: optStr(row, 'last_error'),
    lastErrorCode: errorCode,
    createdAt: str(row, 'created_at'),
    updatedAt: str(row, 'updated_at'),
  };
}

function toSnapshot(row: Row): ClusterSnapshot {
  const added = optNum(row, 'n_added');
  const errors = JSON.parse(str(row, 'errors')) as unknown;
  return {
    id: str(row, 'id'),
    clusterId: str(row, 'cluster_id'),
    takenAt: str(row, 'taken_at'),
    finishedAt: str(row, 'finished_at'),
    durationMs: num(row, 'duration_ms'),
    complete: bool(row, 'complete'),
    errors: Array.isArray(errors)
      ? errors
          .filter((e): e is { kind: unknown; message: unknown } => typeof e === 'object' && e !== null)
          .map((e) => ({ kind: String(e.kind), message: String(e.message) }))
      : [],
    notServed: jsonArray(row, 'not_served'),
    counts: jsonRecord(row, 'counts') as Record<string, number>,
    objects: num(row, 'objects'),
    changes: added === null ? null : { added, removed: num(row, 'n_removed'), modified: num(row, 'n_modified') },
    findings: optNum(row, 'findings'),
    attackPaths: optNum(row, 'attack_paths'),
  };
}

function toInventoryObject(row: Row): InventoryObject {
  return {
    apiVersion: str(row, 'api_version'),
    kind: str(row, 'kind'),
    namespace: namespaceOut(row),
    name: str(row, 'name'),
    uid: optStr(row, 'uid'),
    resourceVersion: optStr(row, 'resource_version'),
    createdAt: optStr(row, 'created_at'),
    labels: jsonRecord(row, 'labels') as Record<string, string>,
    summary: jsonRecord(row, 'summary'),
  };
}

function toChange(row: Row): ClusterChange {
  return {
    clusterId: str(row, 'cluster_id'),
    snapshotId: str(row, 'snapshot_id'),
    takenAt: str(row, 'taken_at'),
    apiVersion: str(row, 'api_version'),
    kind: str(row, 'kind'),
    namespace: namespaceOut(row),
    name: str(row, 'name'),
    change: str(row, 'change_type') as ChangeType,
    summary: str(row, 'summary'),
  };
}

function toFinding(row: Row): ClusterFinding {
  const pss = optStr(row, 'pss');
  return {
    clusterId: str(row, 'cluster_id'),
    snapshotId: str(row, 'snapshot_id'),
    id: str(row, 'id'),
    checkId: str(row, 'check_id'),
    checkVersion: num(row, 'check_version'),
    title: str(row, 'title'),
    severity: SEVERITIES[num(row, 'severity_order')] ?? 'unknown',
    apiVersion: optStr(row, 'api_version'),
    kind: str(row, 'kind'),
    namespace: namespaceOut(row),
    name: str(row, 'name'),
    path: str(row, 'path'),
    message: str(row, 'message'),
    remediation: str(row, 'remediation'),
    frameworks: jsonRecord(row, 'frameworks'),
    pss: pss === null ? null : (JSON.parse(pss) as PssFinding),
  };
}

function toAttackPath(row: Row): ClusterAttackPath {
  const path = JSON.parse(str(row, 'body')) as ClusterAttackPathInput;
  // The columns are the truth for what pages sort and filter on; the body carries the rest.
  return {
    clusterId: str(row, 'cluster_id'),
    snapshotId: str(row, 'snapshot_id'),
    ...path,
    id: str(row, 'id'),
    rank: num(row, 'path_rank'),
    score: num(row, 'score'),
    severity: SEVERITIES[num(row, 'severity_order')] ?? 'unknown',
  };
}
