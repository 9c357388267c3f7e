/**
 * Runtime alerts: batch dedupe, alerts with their context, alert groups, sensor counters and
 * Kubernetes events, written by one transaction per ingested batch.
 *
 * Idempotence is what makes the NATS path "effectively once": a batch is recorded by (cluster,
 * batchId) and an alert by stableId(cluster, Alert.id), both with INSERT … ON CONFLICT DO NOTHING,
 * so a batch redelivered after a crash between commit and ack changes nothing, and the same alert
 * raised on the node and again by the server is stored once.
 *
 * Groups are tumbling windows (floor(time / window)) keyed by cluster, rule and workload: the
 * group of an alert depends on the alert alone, not on what arrived before it, so groups are the
 * same whatever order batches land in and concurrent writers only meet in one atomic upsert.
 */
import {
  PalisadeError,
  severityRank,
  stableId,
  SEVERITIES,
  type Alert,
  type KubeEventRecord,
  type MitreRef,
  type RuntimeEvent,
  type RuntimeIngestResult,
  type SensorCounterDelta,
  type Severity,
} from '@palisade/core';
import { nowIso, type RepoContext } from './context.js';
import { clampLimit, clampOffset, cursorOf, keyset } from './paging.js';
import { first, num, optNum, optStr, Params, str, type Row, type SqlExecutor, type SqlValue } from './sql.js';
import type {
  AlertDetailRecord,
  AlertGroup,
  AlertGroupQuery,
  AlertIngest,
  AlertListQuery,
  AlertOrigin,
  AlertPeer,
  AlertRecord,
  AlertRepository,
  KubeEventStored,
  RuntimePruneOptions,
  RuntimePruneResult,
  SensorCounters,
} from './alert-types.js';
import type { Page } from './types.js';
import {
  DEFAULT_CONTAINERS_PER_CLUSTER,
  listContainers,
  lookupContainers,
  storeContainers,
} from './kube-containers.js';

/** Migration 5. */
export const RUNTIME_ALERTS_SQL = `
CREATE TABLE ingest_batches (
  cluster_id TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  source TEXT NOT NULL,
  node TEXT NOT NULL,
  received_at TEXT NOT NULL,
  alerts INTEGER NOT NULL,
  events INTEGER NOT NULL,
  PRIMARY KEY (cluster_id, batch_id)
);
CREATE INDEX ingest_batches_received ON ingest_batches (received_at);

CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  cluster_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_rank INTEGER NOT NULL,
  title TEXT NOT NULL,
  output TEXT NOT NULL,
  time TEXT NOT NULL,
  received_at TEXT NOT NULL,
  origin TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  node TEXT NOT NULL,
  namespace TEXT,
  pod TEXT,
  workload_kind TEXT,
  workload_name TEXT,
  container_id TEXT,
  container_name TEXT,
  image TEXT,
  image_digest TEXT,
  proc_pid INTEGER,
  proc_exe TEXT,
  proc_argv TEXT,
  peer_address TEXT,
  peer_port INTEGER,
  peer_protocol TEXT,
  peer_direction TEXT,
  group_id TEXT NOT NULL,
  fields TEXT NOT NULL,
  mitre TEXT NOT NULL,
  tags TEXT NOT NULL,
  events TEXT NOT NULL,
  blocked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_time ON alerts (time, id);
CREATE INDEX alerts_cluster_time ON alerts (cluster_id, time, id);
CREATE INDEX alerts_rule_time ON alerts (rule_id, time, id);
CREATE INDEX alerts_namespace_time ON alerts (namespace, time, id);
CREATE INDEX alerts_group_time ON alerts (group_id, time, id);

CREATE TABLE alert_groups (
  id TEXT PRIMARY KEY,
  cluster_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  title TEXT NOT NULL,
  workload_key TEXT NOT NULL,
  namespace TEXT,
  workload_kind TEXT,
  workload_name TEXT,
  image TEXT,
  node TEXT NOT NULL,
  window_start TEXT NOT NULL,
  window_end TEXT NOT NULL,
  first_time TEXT NOT NULL,
  last_time TEXT NOT NULL,
  count INTEGER NOT NULL,
  max_rank INTEGER NOT NULL,
  severity TEXT NOT NULL,
  latest_alert_id TEXT NOT NULL
);
CREATE INDEX alert_groups_last ON alert_groups (last_time, id);
CREATE INDEX alert_groups_cluster_last ON alert_groups (cluster_id, last_time, id);
CREATE INDEX alert_groups_rule_last ON alert_groups (rule_id, last_time, id);

CREATE TABLE sensor_counters (
  cluster_id TEXT NOT NULL,
  node TEXT NOT NULL,
  kernel_drops BIGINT NOT NULL,
  user_drops BIGINT NOT NULL,
  spool_drops BIGINT NOT NULL,
  batches BIGINT NOT NULL,
  sensor_version TEXT NOT NULL,
  last_report_at TEXT NOT NULL,
  PRIMARY KEY (cluster_id, node)
);

CREATE TABLE sensor_seen (
  cluster_id TEXT NOT NULL,
  node TEXT NOT NULL,
  event_type TEXT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (cluster_id, node, event_type)
);

CREATE TABLE kube_events (
  cluster_id TEXT NOT NULL,
  uid TEXT NOT NULL,
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  reason TEXT NOT NULL,
  message TEXT NOT NULL,
  namespace TEXT NOT NULL,
  involved_kind TEXT NOT NULL,
  involved_name TEXT NOT NULL,
  involved_namespace TEXT NOT NULL,
  count INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (cluster_id, uid)
);
CREATE INDEX kube_events_cluster_time ON kube_events (cluster_id, time, uid)
`;

export const DEFAULT_GROUP_WINDOW_MS = 10 * 60_000;
/** Kubernetes events kept per cluster (the newest). */
export const DEFAULT_KUBE_EVENTS_PER_CLUSTER = 10_000;
/** Batch ids are remembered this long: a publisher's retries come within minutes, not days. */
export const DEFAULT_BATCH_RETENTION_MS = 7 * 86_400_000;

/** Distinct nodes kept in the sensor counters per cluster (each a row, named by the sender). */
export const DEFAULT_MAX_NODES_PER_CLUSTER = 5_000;
/** Distinct event types counted per node (the sensor has about twenty). */
export const MAX_SEEN_TYPES_PER_NODE = 64;

/**
 * Errors of the database that retrying cannot fix, because the batch's values are what it
 * refuses: PostgreSQL SQLSTATE classes 22 (data exception: NUL in text 22P05/22021, a number out
 * of range 22003), 23 (integrity constraint) and 54 (program limit, e.g. an index row too
 * large), SQLite's type, size and NOT NULL/CHECK refusals, and a value too deep or too long to
 * serialize (RangeError). Connection loss, serialization failures, deadlocks, a full disk or a
 * busy database are transient: they are not listed, and the caller retries them.
 */
export function isDataRefusal(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  if (/^(22|23|54)[0-9A-Z]{3}$/.test(code)) return true;
  return [
    'SQLITE_TOOBIG',
    'SQLITE_MISMATCH',
    'SQLITE_CONSTRAINT_NOTNULL',
    'SQLITE_CONSTRAINT_CHECK',
    'SQLITE_CONSTRAINT_DATATYPE',
  ].includes(code);
}

/** A refusal of the database as the 400 the sender gets (its publisher then dead-letters the batch). */
function refusal(err: unknown, batchId: string): PalisadeError {
  const code = (err as { code?: unknown }).code;
  const why = err instanceof Error ? err.message.split('\n', 1)[0]?.slice(0, 200) : String(err).slice(0, 200);
  return new PalisadeError(
    'E_INPUT',
    `the database refused a value of this batch${typeof code === 'string' ? ` (${code})` : ''}: ${why}; sending it again cannot succeed`,
    { subject: `batch ${batchId}`, cause: err },
  );
}

export interface AlertRepositoryOptions {
  kubeEventsPerCluster?: number;
  /** Container records kept per cluster (default 200,000). */
  containersPerCluster?: number;
  batchRetentionMs?: number;
}

/** Rows per multi-row INSERT: 33 columns × 100 stays far below both engines' parameter limits. */
const INSERT_CHUNK = 100;

const ALERT_COLUMNS = [
  'id',
  'alert_id',
  'cluster_id',
  'rule_id',
  'severity',
  'severity_rank',
  'title',
  'output',
  'time',
  'received_at',
  'origin',
  'batch_id',
  'node',
  'namespace',
  'pod',
  'workload_kind',
  'workload_name',
  'container_id',
  'container_name',
  'image',
  'image_digest',
  'proc_pid',
  'proc_exe',
  'proc_argv',
  'peer_address',
  'peer_port',
  'peer_protocol',
  'peer_direction',
  'group_id',
  'fields',
  'mitre',
  'tags',
  'events',
  'blocked',
] as const;

/** The server's id of a cluster's alert. */
export function storedAlertId(clusterId: string, alertId: string): string {
  return stableId('alert', clusterId, alertId);
}

/** ISO-8601 UTC with milliseconds, so stored times compare as strings. */
export function isoTime(t: string, subject: string): string {
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new PalisadeError('E_INPUT', 'not an RFC 3339 time', { subject });
  return new Date(ms).toISOString();
}

interface Workload {
  key: string;
  namespace: string | null;
  kind: string | null;
  name: string | null;
  image: string | null;
  node: string;
}

/** "The same workload": the pod's owner in Kubernetes, else the image on the node (host processes: the node). */
export function workloadOf(ev: RuntimeEvent): Workload {
  const k8s = ev.k8s;
  const image = ev.container?.image ?? null;
  if (k8s && k8s.namespace !== '') {
    const kind = k8s.workloadKind ?? 'Pod';
    const name = k8s.workloadName ?? k8s.pod;
    return { key: `k8s:${k8s.namespace}/${kind}/${name}`, namespace: k8s.namespace, kind, name, image, node: ev.node };
  }
  return { key: `host:${ev.node}/${image ?? '-'}`, namespace: null, kind: null, name: null, image, node: ev.node };
}

function peerOf(ev: RuntimeEvent): AlertPeer | null {
  if (ev.type === 'network.connect')
    return { address: ev.net.dstAddr, port: ev.net.dstPort, protocol: ev.net.protocol, direction: 'outbound' };
  if (ev.type === 'network.accept')
    return { address: ev.net.srcAddr, port: ev.net.srcPort, protocol: ev.net.protocol, direction: 'inbound' };
  if (ev.type === 'network.listen')
    return { address: ev.net.srcAddr, port: ev.net.srcPort, protocol: ev.net.protocol, direction: 'listen' };
  return null;
}

interface PreparedAlert {
  values: SqlValue[];
  id: string;
  time: string;
  rank: number;
  severity: Severity;
  group: GroupDelta;
}

interface GroupDelta {
  id: string;
  clusterId: string;
  ruleId: string;
  title: string;
  workload: Workload;
  windowStart: string;
  windowEnd: string;
  firstTime: string;
  lastTime: string;
  count: number;
  maxRank: number;
  severity: Severity;
  latestAlertId: string;
}

function prepareAlert(
  clusterId: string,
  batchId: string,
  alert: Alert,
  origin: AlertOrigin,
  receivedAt: string,
  windowMs: number,
): PreparedAlert {
  // The alert's time is its last triggering event's; that event gives the context.
  const ev = alert.events[alert.events.length - 1];
  if (ev === undefined) throw new PalisadeError('E_INPUT', 'an alert needs at least one event', { subject: alert.id });
  const id = storedAlertId(clusterId, alert.id);
  const time = isoTime(alert.time, `alert ${alert.id}: time`);
  const workload = workloadOf(ev);
  const start = Math.floor(Date.parse(time) / windowMs) * windowMs;
  const windowStart = new Date(start).toISOString();
  const groupId = stableId('alert-group', clusterId, alert.ruleId, workload.key, windowStart);
  const proc = 'proc' in ev ? ev.proc : undefined;
  const peer = peerOf(ev);
  const rank = severityRank(alert.severity);
  const values: SqlValue[] = [
    id,
    alert.id,
    clusterId,
    alert.ruleId,
    alert.severity,
    rank,
    alert.title,
    alert.output,
    time,
    receivedAt,
    origin,
    batchId,
    ev.node,
    ev.k8s?.namespace ?? null,
    ev.k8s?.pod ?? null,
    workload.kind,
    workload.name,
    ev.container?.id ?? null,
    ev.container?.name ?? null,
    ev.container?.image ?? null,
    ev.container?.imageDigest ?? null,
    proc?.pid ?? null,
    proc?.exe ?? null,
    proc ? JSON.stringify(proc.argv) : null,
    peer?.address ?? null,
    peer?.port ?? null,
    peer?.protocol ?? null,
    peer?.direction ?? null,
    groupId,
    JSON.stringify(alert.fields),
    JSON.stringify(alert.mitre),
    JSON.stringify(alert.tags),
    JSON.stringify(alert.events),
    alert.blocked === true ? 1 : 0,
  ];
  return {
    values,
    id,
    time,
    rank,
    severity: alert.severity,
    group: {
      id: groupId,
      clusterId,
      ruleId: alert.ruleId,
      title: alert.title,
      workload,
      windowStart,
      windowEnd: new Date(start + windowMs).toISOString(),
      firstTime: time,
      lastTime: time,
      count: 1,
      maxRank: rank,
      severity: alert.severity,
      latestAlertId: id,
    },
  };
}

function mergeGroup(into: GroupDelta, a: GroupDelta): void {
  into.count += a.count;
  if (a.firstTime < into.firstTime) into.firstTime = a.firstTime;
  if (a.lastTime > into.lastTime || (a.lastTime === into.lastTime && a.latestAlertId > into.latestAlertId)) {
    into.lastTime = a.lastTime;
    into.latestAlertId = a.latestAlertId;
  }
  if (a.maxRank > into.maxRank) {
    into.maxRank = a.maxRank;
    into.severity = a.severity;
  }
}

const GROUP_UPSERT = `INSERT INTO alert_groups (id, cluster_id, rule_id, title, workload_key, namespace, workload_kind,
  workload_name, image, node, window_start, window_end, first_time, last_time, count, max_rank, severity, latest_alert_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
  ON CONFLICT (id) DO UPDATE SET
    count = alert_groups.count + excluded.count,
    first_time = CASE WHEN excluded.first_time < alert_groups.first_time THEN excluded.first_time ELSE alert_groups.first_time END,
    last_time = CASE WHEN excluded.last_time > alert_groups.last_time THEN excluded.last_time ELSE alert_groups.last_time END,
    latest_alert_id = CASE WHEN excluded.last_time > alert_groups.last_time
        OR (excluded.last_time = alert_groups.last_time AND excluded.latest_alert_id > alert_groups.latest_alert_id)
      THEN excluded.latest_alert_id ELSE alert_groups.latest_alert_id END,
    severity = CASE WHEN excluded.max_rank > alert_groups.max_rank THEN excluded.severity ELSE alert_groups.severity END,
    max_rank = CASE WHEN excluded.max_rank > alert_groups.max_rank THEN excluded.max_rank ELSE alert_groups.max_rank END`;

async function insertAlerts(ex: SqlExecutor, rows: readonly PreparedAlert[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const chunk = rows.slice(i, i + INSERT_CHUNK);
    const p = new Params();
    const tuples = chunk.map((r) => `(${r.values.map((v) => p.add(v)).join(', ')})`);
    const out = await ex.all(
      `INSERT INTO alerts (${ALERT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
      p.values,
    );
    for (const row of out) inserted.add(str(row, 'id'));
  }
  return inserted;
}

async function upsertGroups(ex: SqlExecutor, groups: Iterable<GroupDelta>): Promise<void> {
  // Sorted: concurrent PostgreSQL writers then lock group rows in the same order (no deadlock).
  for (const g of [...groups].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    await ex.run(GROUP_UPSERT, [
      g.id,
      g.clusterId,
      g.ruleId,
      g.title,
      g.workload.key,
      g.workload.namespace,
      g.workload.kind,
      g.workload.name,
      g.workload.image,
      g.workload.node,
      g.windowStart,
      g.windowEnd,
      g.firstTime,
      g.lastTime,
      g.count,
      g.maxRank,
      g.severity,
      g.latestAlertId,
    ]);
  }
}

/**
 * The node must already report, or the cluster must have room for one more: node names are the
 * sender's choice, and each is a row kept until the node has been silent for the retention.
 */
async function checkNodeRoom(ex: SqlExecutor, clusterId: string, node: string, maxNodes: number): Promise<void> {
  if (await first(ex, 'SELECT 1 AS one FROM sensor_counters WHERE cluster_id = $1 AND node = $2', [clusterId, node]))
    return;
  const n = num(
    (await first(ex, 'SELECT COUNT(*) AS n FROM sensor_counters WHERE cluster_id = $1', [clusterId])) ?? {},
    'n',
  );
  if (n >= maxNodes)
    throw new PalisadeError(
      'E_INPUT',
      `the cluster already has ${n} nodes reporting, the most kept per cluster (${maxNodes}): a node silent for the alert retention is forgotten and frees its place`,
      { subject: 'body.node' },
    );
}

/** A node counts at most MAX_SEEN_TYPES_PER_NODE event types (each a row). */
async function checkSeenRoom(
  ex: SqlExecutor,
  clusterId: string,
  node: string,
  types: readonly string[],
): Promise<void> {
  if (types.length === 0) return;
  const rows = await ex.all('SELECT event_type FROM sensor_seen WHERE cluster_id = $1 AND node = $2', [
    clusterId,
    node,
  ]);
  const all = new Set(rows.map((r) => str(r, 'event_type')));
  for (const t of types) all.add(t);
  if (all.size > MAX_SEEN_TYPES_PER_NODE)
    throw new PalisadeError(
      'E_INPUT',
      `this node would count ${all.size} event types, more than the ${MAX_SEEN_TYPES_PER_NODE} kept per node`,
      { subject: 'body.counters.seen' },
    );
}

async function addCounters(
  ex: SqlExecutor,
  clusterId: string,
  input: {
    node: string;
    sensorVersion: string;
    at: string;
    counters: SensorCounterDelta | undefined;
  },
): Promise<void> {
  const c = input.counters;
  await ex.run(
    `INSERT INTO sensor_counters (cluster_id, node, kernel_drops, user_drops, spool_drops, batches, sensor_version, last_report_at)
     VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
     ON CONFLICT (cluster_id, node) DO UPDATE SET
       kernel_drops = sensor_counters.kernel_drops + excluded.kernel_drops,
       user_drops = sensor_counters.user_drops + excluded.user_drops,
       spool_drops = sensor_counters.spool_drops + excluded.spool_drops,
       batches = sensor_counters.batches + 1,
       sensor_version = excluded.sensor_version,
       last_report_at = CASE WHEN excluded.last_report_at > sensor_counters.last_report_at
         THEN excluded.last_report_at ELSE sensor_counters.last_report_at END`,
    [clusterId, input.node, c?.kernelDrops ?? 0, c?.userDrops ?? 0, c?.spoolDrops ?? 0, input.sensorVersion, input.at],
  );
  const seen = Object.entries(c?.seen ?? {})
    .filter(([, n]) => n > 0)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  await checkSeenRoom(
    ex,
    clusterId,
    input.node,
    seen.map(([t]) => t),
  );
  for (const [type, n] of seen) {
    await ex.run(
      `INSERT INTO sensor_seen (cluster_id, node, event_type, count) VALUES ($1, $2, $3, $4)
       ON CONFLICT (cluster_id, node, event_type) DO UPDATE SET count = sensor_seen.count + excluded.count`,
      [clusterId, input.node, type, n],
    );
  }
}

async function storeKubeEvents(
  ex: SqlExecutor,
  clusterId: string,
  events: readonly KubeEventRecord[],
  receivedAt: string,
  keep: number,
): Promise<void> {
  if (events.length === 0) return;
  // The newest record per uid wins when a batch carries an Event twice (its count went up).
  const byUid = new Map<string, KubeEventRecord & { time: string }>();
  for (const [i, e] of events.entries()) {
    const t = { ...e, time: isoTime(e.time, `kubeEvents[${i}].time`) };
    const prev = byUid.get(e.uid);
    if (!prev || t.time >= prev.time) byUid.set(e.uid, t);
  }
  const rows = [...byUid.values()].sort((a, b) => (a.uid < b.uid ? -1 : 1));
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const p = new Params();
    const tuples = rows.slice(i, i + INSERT_CHUNK).map((e) => {
      const v: SqlValue[] = [
        clusterId,
        e.uid,
        e.time,
        e.type,
        e.reason,
        e.message,
        e.namespace,
        e.involved.kind,
        e.involved.name,
        e.involved.namespace,
        e.count,
        receivedAt,
      ];
      return `(${v.map((x) => p.add(x)).join(', ')})`;
    });
    await ex.run(
      `INSERT INTO kube_events (cluster_id, uid, time, type, reason, message, namespace, involved_kind, involved_name,
         involved_namespace, count, received_at) VALUES ${tuples.join(', ')}
       ON CONFLICT (cluster_id, uid) DO UPDATE SET time = excluded.time, type = excluded.type, reason = excluded.reason,
         message = excluded.message, count = excluded.count, received_at = excluded.received_at
       WHERE excluded.time >= kube_events.time`,
      p.values,
    );
  }
  // Bounded per cluster: drop what is older than the keep-th newest.
  const edge = await first(
    ex,
    'SELECT time, uid FROM kube_events WHERE cluster_id = $1 ORDER BY time DESC, uid DESC LIMIT 1 OFFSET $2',
    [clusterId, keep],
  );
  if (edge) {
    await ex.run('DELETE FROM kube_events WHERE cluster_id = $1 AND (time, uid) <= ($2, $3)', [
      clusterId,
      str(edge, 'time'),
      str(edge, 'uid'),
    ]);
  }
}

export function createAlertRepository(ctx: RepoContext, opts: AlertRepositoryOptions = {}): AlertRepository {
  const { ex } = ctx;
  const keepKubeEvents = opts.kubeEventsPerCluster ?? DEFAULT_KUBE_EVENTS_PER_CLUSTER;
  const keepContainers = opts.containersPerCluster ?? DEFAULT_CONTAINERS_PER_CLUSTER;
  const retentionMs = opts.batchRetentionMs ?? DEFAULT_BATCH_RETENTION_MS;
  let lastPrune = 0;

  const ingestBatch = async ({
    clusterId,
    batch,
    detected = [],
    groupWindowMs = DEFAULT_GROUP_WINDOW_MS,
    maxNodesPerCluster = DEFAULT_MAX_NODES_PER_CLUSTER,
  }: AlertIngest): Promise<RuntimeIngestResult> => {
    if (!Number.isInteger(groupWindowMs) || groupWindowMs < 1000)
      throw new PalisadeError('E_CONFIG', 'must be an integer of at least 1000 ms', { subject: 'groupWindowMs' });
    const receivedAt = nowIso(ctx);
    // Prepared before the transaction: a bad time fails the batch without holding the write lock.
    const prepared = new Map<string, PreparedAlert>();
    let duplicates = 0;
    const add = (alerts: readonly Alert[], origin: AlertOrigin): void => {
      for (const a of alerts) {
        const p = prepareAlert(clusterId, batch.batchId, a, origin, receivedAt, groupWindowMs);
        if (prepared.has(p.id)) duplicates++;
        else prepared.set(p.id, p);
      }
    };
    // The node's own alerts first: when the server raised the same one, the node's copy is kept.
    add(batch.alerts, 'sensor');
    add(detected, 'server');
    const rows = [...prepared.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const kubeEvents = batch.kubeEvents ?? [];

    const result = await ex.transaction(async (tx) => {
      const fresh = await tx.run(
        `INSERT INTO ingest_batches (cluster_id, batch_id, source, node, received_at, alerts, events)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (cluster_id, batch_id) DO NOTHING`,
        [clusterId, batch.batchId, batch.source, batch.node, receivedAt, batch.alerts.length, batch.events.length],
      );
      if (fresh === 0) {
        return { batchId: batch.batchId, accepted: false, alerts: 0, events: 0, duplicates: 0 };
      }
      // Before any insert: a batch from one node too many costs two indexed reads.
      await checkNodeRoom(tx, clusterId, batch.node, maxNodesPerCluster);
      const inserted = await insertAlerts(tx, rows);
      const groups = new Map<string, GroupDelta>();
      for (const r of rows) {
        if (!inserted.has(r.id)) continue;
        const g = groups.get(r.group.id);
        if (g) mergeGroup(g, r.group);
        else groups.set(r.group.id, { ...r.group });
      }
      await upsertGroups(tx, groups.values());
      await addCounters(tx, clusterId, {
        node: batch.node,
        sensorVersion: batch.sensorVersion,
        at: receivedAt,
        counters: batch.counters,
      });
      await storeKubeEvents(tx, clusterId, kubeEvents, receivedAt, keepKubeEvents);
      await storeContainers(tx, clusterId, batch.containers ?? [], receivedAt, keepContainers);
      return {
        batchId: batch.batchId,
        accepted: true,
        alerts: inserted.size,
        events: batch.events.length,
        duplicates: duplicates + rows.length - inserted.size,
      };
    });
    const now = Date.parse(receivedAt);
    if (now - lastPrune > 60_000) {
      lastPrune = now;
      await ex.run('DELETE FROM ingest_batches WHERE received_at < $1', [new Date(now - retentionMs).toISOString()]);
    }
    return result;
  };

  return {
    async ingest(input) {
      try {
        return await ingestBatch(input);
      } catch (err) {
        if (err instanceof PalisadeError || !isDataRefusal(err)) throw err;
        throw refusal(err, input.batch.batchId);
      }
    },

    async list(query = {}) {
      const limit = clampLimit(query.limit);
      const p = new Params();
      const where = alertFilters(query, p);
      const total = num(
        (await first(ex, `SELECT COUNT(*) AS n FROM alerts a ${whereSql(where)}`, p.values)) ?? {},
        'n',
      );
      const plan = keyset(['a.time', 'a.id'], 'desc', query.cursor, p);
      if (plan.after) where.push(plan.after);
      const offset = query.cursor === undefined ? clampOffset(query.offset) : 0;
      const rows = await ex.all(
        `SELECT ${LIST_COLUMNS}, ${plan.select} FROM alerts a ${whereSql(where)}
         ORDER BY ${plan.orderBy} LIMIT ${limit + 1} OFFSET ${offset}`,
        p.values,
      );
      return pageOf(rows, limit, total, 2, toAlert);
    },

    async get(id) {
      const row = await first(ex, 'SELECT * FROM alerts a WHERE a.id = $1', [id]);
      if (!row) return null;
      const detail: AlertDetailRecord = { ...toAlert(row), events: parseJson(row, 'events', []) };
      return detail;
    },

    async groups(query = {}) {
      const limit = clampLimit(query.limit);
      const p = new Params();
      const where = groupFilters(query, p);
      const total = num(
        (await first(ex, `SELECT COUNT(*) AS n FROM alert_groups g ${whereSql(where)}`, p.values)) ?? {},
        'n',
      );
      const plan = keyset(['g.last_time', 'g.id'], 'desc', query.cursor, p);
      if (plan.after) where.push(plan.after);
      const offset = query.cursor === undefined ? clampOffset(query.offset) : 0;
      const rows = await ex.all(
        `SELECT g.*, ${plan.select} FROM alert_groups g ${whereSql(where)}
         ORDER BY ${plan.orderBy} LIMIT ${limit + 1} OFFSET ${offset}`,
        p.values,
      );
      return pageOf(rows, limit, total, 2, toGroup);
    },

    async getGroup(id) {
      const row = await first(ex, 'SELECT * FROM alert_groups WHERE id = $1', [id]);
      return row ? toGroup(row) : null;
    },

    async counters(clusterId) {
      const p = new Params();
      const filter = clusterId === undefined ? '' : `WHERE cluster_id = ${p.add(clusterId)}`;
      const rows = await ex.all(`SELECT * FROM sensor_counters ${filter} ORDER BY cluster_id, node`, p.values);
      const seenRows = await ex.all(
        `SELECT cluster_id, node, event_type, count FROM sensor_seen ${filter} ORDER BY cluster_id, node, event_type`,
        p.values,
      );
      const seen = new Map<string, Record<string, number>>();
      for (const r of seenRows) {
        const key = `${str(r, 'cluster_id')}\u0000${str(r, 'node')}`;
        const m = seen.get(key) ?? {};
        m[str(r, 'event_type')] = num(r, 'count');
        seen.set(key, m);
      }
      return rows.map((r): SensorCounters => ({
        clusterId: str(r, 'cluster_id'),
        node: str(r, 'node'),
        seen: seen.get(`${str(r, 'cluster_id')}\u0000${str(r, 'node')}`) ?? {},
        kernelDrops: num(r, 'kernel_drops'),
        userDrops: num(r, 'user_drops'),
        spoolDrops: num(r, 'spool_drops'),
        batches: num(r, 'batches'),
        sensorVersion: str(r, 'sensor_version'),
        lastReportAt: str(r, 'last_report_at'),
      }));
    },

    prune: (opts) => pruneRuntime(ex, opts),

    containerContext: (clusterId, ids) => lookupContainers(ex, clusterId, ids),

    containers: (query) => listContainers(ex, query),

    deleteCluster: (clusterId) => deleteClusterRows(ex, clusterId),

    async kubeEvents(clusterId, limit = 100) {
      const n = Math.min(clampLimit(limit), 500);
      const rows = await ex.all(
        `SELECT * FROM kube_events WHERE cluster_id = $1 ORDER BY time DESC, uid DESC LIMIT ${n}`,
        [clusterId],
      );
      return rows.map((r): KubeEventStored => ({
        clusterId: str(r, 'cluster_id'),
        uid: str(r, 'uid'),
        time: str(r, 'time'),
        type: str(r, 'type'),
        reason: str(r, 'reason'),
        message: str(r, 'message'),
        namespace: str(r, 'namespace'),
        involved: {
          kind: str(r, 'involved_kind'),
          name: str(r, 'involved_name'),
          namespace: str(r, 'involved_namespace'),
        },
        count: num(r, 'count'),
        receivedAt: str(r, 'received_at'),
      }));
    },
  };
}

/** Every runtime table, with its cluster column: what a cluster's deletion removes. */
const RUNTIME_TABLES = [
  'alerts',
  'alert_groups',
  'sensor_seen',
  'sensor_counters',
  'kube_events',
  'kube_containers',
  'ingest_batches',
];

async function deleteClusterRows(ex: SqlExecutor, clusterId: string): Promise<number> {
  return ex.transaction(async (tx) => {
    let n = 0;
    for (const table of RUNTIME_TABLES) n += await tx.run(`DELETE FROM ${table} WHERE cluster_id = $1`, [clusterId]);
    return n;
  });
}

/**
 * Delete the rows `select` names (a query of `key` values, given `$1` = the cutoff and `$2` = the
 * batch size), batch by batch, each its own statement, until none is left or `max` is reached.
 */
async function deleteInBatches(
  ex: SqlExecutor,
  table: string,
  key: string,
  select: string,
  cutoff: string,
  batchSize: number,
  max: number,
): Promise<{ removed: number; more: boolean }> {
  let removed = 0;
  // Bounded by `max` rows, hence by max / batchSize statements.
  for (let round = 0; removed < max; round++) {
    const size = Math.min(batchSize, max - removed);
    const n = await ex.run(`DELETE FROM ${table} WHERE ${key} IN (${select})`, [cutoff, size]);
    removed += n;
    if (n < size) return { removed, more: false };
  }
  return { removed, more: true };
}

/** Deleted clusters cleaned up per prune run (each is one transaction over every runtime table). */
const MAX_ORPHANS_PER_RUN = 16;

async function pruneRuntime(ex: SqlExecutor, opts: RuntimePruneOptions): Promise<RuntimePruneResult> {
  const before = isoTime(opts.before, 'before');
  const batchesBefore = isoTime(opts.batchesBefore ?? opts.before, 'batchesBefore');
  const batchSize = opts.batchSize ?? 1000;
  const max = opts.maxRowsPerTable ?? 100_000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(max) || max < 1)
    throw new PalisadeError('E_CONFIG', 'batchSize and maxRowsPerTable must be positive integers', {
      subject: 'prune',
    });
  // First, clusters deleted while one of their batches was being stored: what that batch left.
  // Every alert has a group that outlives it, and every batch a counters row: those tables say
  // which clusters have runtime rows.
  const orphans = await ex.all(
    `SELECT cluster_id FROM (SELECT DISTINCT cluster_id FROM sensor_counters
       UNION SELECT DISTINCT cluster_id FROM alert_groups
       UNION SELECT DISTINCT cluster_id FROM kube_events
       UNION SELECT DISTINCT cluster_id FROM kube_containers) runtime_clusters
     WHERE cluster_id NOT IN (SELECT id FROM clusters) ORDER BY cluster_id LIMIT ${MAX_ORPHANS_PER_RUN}`,
  );
  for (const r of orphans) await deleteClusterRows(ex, str(r, 'cluster_id'));
  // Oldest first, by the indexes the API reads with (alerts_time, alert_groups_last).
  const alerts = await deleteInBatches(
    ex,
    'alerts',
    'id',
    'SELECT id FROM alerts WHERE time < $1 ORDER BY time, id LIMIT $2',
    before,
    batchSize,
    max,
  );
  const groups = await deleteInBatches(
    ex,
    'alert_groups',
    'id',
    'SELECT id FROM alert_groups WHERE last_time < $1 ORDER BY last_time, id LIMIT $2',
    before,
    batchSize,
    max,
  );
  const kube = await deleteInBatches(
    ex,
    'kube_events',
    '(cluster_id, uid)',
    'SELECT cluster_id, uid FROM kube_events WHERE time < $1 ORDER BY time, uid LIMIT $2',
    before,
    batchSize,
    max,
  );
  // Containers deleted a while ago (late alerts had their grace), then those no longer reported.
  const deletedContainers = await deleteInBatches(
    ex,
    'kube_containers',
    '(cluster_id, container_id)',
    'SELECT cluster_id, container_id FROM kube_containers WHERE deleted_at < $1 ORDER BY deleted_at LIMIT $2',
    isoTime(opts.containersDeletedBefore ?? opts.before, 'containersDeletedBefore'),
    batchSize,
    max,
  );
  const staleContainers = await deleteInBatches(
    ex,
    'kube_containers',
    '(cluster_id, container_id)',
    'SELECT cluster_id, container_id FROM kube_containers WHERE last_seen < $1 ORDER BY last_seen LIMIT $2',
    isoTime(opts.containersStaleBefore ?? opts.before, 'containersStaleBefore'),
    batchSize,
    max,
  );
  const batches = await deleteInBatches(
    ex,
    'ingest_batches',
    '(cluster_id, batch_id)',
    'SELECT cluster_id, batch_id FROM ingest_batches WHERE received_at < $1 ORDER BY received_at LIMIT $2',
    batchesBefore,
    batchSize,
    max,
  );
  // Nodes silent for the retention: their counters and their place among the cluster's nodes.
  const silent = await ex.all(
    'SELECT cluster_id, node FROM sensor_counters WHERE last_report_at < $1 ORDER BY cluster_id, node LIMIT $2',
    [before, max],
  );
  for (const r of silent) {
    await ex.transaction(async (tx) => {
      const key = [str(r, 'cluster_id'), str(r, 'node')];
      await tx.run('DELETE FROM sensor_seen WHERE cluster_id = $1 AND node = $2', key);
      await tx.run('DELETE FROM sensor_counters WHERE cluster_id = $1 AND node = $2', key);
    });
  }
  return {
    alerts: alerts.removed,
    groups: groups.removed,
    nodes: silent.length,
    kubeEvents: kube.removed,
    containers: deletedContainers.removed + staleContainers.removed,
    batches: batches.removed,
    orphanClusters: orphans.length,
    more:
      alerts.more ||
      groups.more ||
      kube.more ||
      deletedContainers.more ||
      staleContainers.more ||
      batches.more ||
      silent.length === max ||
      orphans.length === MAX_ORPHANS_PER_RUN,
  };
}

const LIST_COLUMNS = ALERT_COLUMNS.filter((c) => c !== 'events')
  .map((c) => `a.${c}`)
  .join(', ');

function whereSql(where: readonly string[]): string {
  return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
}

function severityFilter(
  col: string,
  q: { severity?: readonly Severity[]; minSeverity?: Severity },
  p: Params,
  where: string[],
): void {
  if (q.severity !== undefined) {
    for (const s of q.severity)
      if (!(SEVERITIES as readonly string[]).includes(s))
        throw new PalisadeError('E_INPUT', `unknown severity '${s}'`, { subject: 'severity' });
    where.push(`${col} IN (${p.list(q.severity.map((s) => severityRank(s)))})`);
  }
  if (q.minSeverity !== undefined) {
    if (!(SEVERITIES as readonly string[]).includes(q.minSeverity))
      throw new PalisadeError('E_INPUT', `unknown severity '${q.minSeverity}'`, { subject: 'minSeverity' });
    where.push(`${col} >= ${p.add(severityRank(q.minSeverity))}`);
  }
}

function alertFilters(q: AlertListQuery, p: Params): string[] {
  const where: string[] = [];
  severityFilter('a.severity_rank', q, p, where);
  if (q.ruleId !== undefined) where.push(`a.rule_id = ${p.add(q.ruleId)}`);
  if (q.clusterId !== undefined) where.push(`a.cluster_id = ${p.add(q.clusterId)}`);
  if (q.namespace !== undefined) where.push(`a.namespace = ${p.add(q.namespace)}`);
  if (q.node !== undefined) where.push(`a.node = ${p.add(q.node)}`);
  if (q.groupId !== undefined) where.push(`a.group_id = ${p.add(q.groupId)}`);
  if (q.from !== undefined) where.push(`a.time >= ${p.add(isoTime(q.from, 'from'))}`);
  if (q.to !== undefined) where.push(`a.time < ${p.add(isoTime(q.to, 'to'))}`);
  return where;
}

function groupFilters(q: AlertGroupQuery, p: Params): string[] {
  const where: string[] = [];
  severityFilter('g.max_rank', q, p, where);
  if (q.ruleId !== undefined) where.push(`g.rule_id = ${p.add(q.ruleId)}`);
  if (q.clusterId !== undefined) where.push(`g.cluster_id = ${p.add(q.clusterId)}`);
  if (q.namespace !== undefined) where.push(`g.namespace = ${p.add(q.namespace)}`);
  if (q.from !== undefined) where.push(`g.last_time >= ${p.add(isoTime(q.from, 'from'))}`);
  if (q.to !== undefined) where.push(`g.first_time < ${p.add(isoTime(q.to, 'to'))}`);
  return where;
}

function pageOf<T>(rows: Row[], limit: number, total: number, arity: number, map: (r: Row) => T): Page<T> {
  const more = rows.length > limit;
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(map), total, nextCursor: more && last ? cursorOf(last, arity) : null };
}

function parseJson<T>(row: Row, col: string, fallback: T): T {
  const v = optStr(row, col);
  return v === null ? fallback : (JSON.parse(v) as T);
}

function severityOf(row: Row, col: string): Severity {
  const s = str(row, col);
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : 'unknown';
}

function toAlert(r: Row): AlertRecord {
  const pid = optNum(r, 'proc_pid');
  const peerAddress = optStr(r, 'peer_address');
  return {
    id: str(r, 'id'),
    alertId: str(r, 'alert_id'),
    clusterId: str(r, 'cluster_id'),
    ruleId: str(r, 'rule_id'),
    severity: severityOf(r, 'severity'),
    title: str(r, 'title'),
    output: str(r, 'output'),
    time: str(r, 'time'),
    receivedAt: str(r, 'received_at'),
    origin: str(r, 'origin') === 'server' ? 'server' : 'sensor',
    node: str(r, 'node'),
    namespace: optStr(r, 'namespace'),
    pod: optStr(r, 'pod'),
    workloadKind: optStr(r, 'workload_kind'),
    workloadName: optStr(r, 'workload_name'),
    containerId: optStr(r, 'container_id'),
    containerName: optStr(r, 'container_name'),
    image: optStr(r, 'image'),
    imageDigest: optStr(r, 'image_digest'),
    process:
      pid === null ? null : { pid, exe: optStr(r, 'proc_exe') ?? '', argv: parseJson<string[]>(r, 'proc_argv', []) },
    peer:
      peerAddress === null
        ? null
        : {
            address: peerAddress,
            port: num(r, 'peer_port'),
            protocol: optStr(r, 'peer_protocol') ?? '',
            direction: (optStr(r, 'peer_direction') ?? 'outbound') as AlertPeer['direction'],
          },
    groupId: str(r, 'group_id'),
    fields: parseJson<Record<string, string>>(r, 'fields', {}),
    mitre: parseJson<MitreRef[]>(r, 'mitre', []),
    tags: parseJson<string[]>(r, 'tags', []),
    blocked: num(r, 'blocked') === 1,
  };
}

function toGroup(r: Row): AlertGroup {
  return {
    id: str(r, 'id'),
    clusterId: str(r, 'cluster_id'),
    ruleId: str(r, 'rule_id'),
    title: str(r, 'title'),
    workloadKey: str(r, 'workload_key'),
    namespace: optStr(r, 'namespace'),
    workloadKind: optStr(r, 'workload_kind'),
    workloadName: optStr(r, 'workload_name'),
    image: optStr(r, 'image'),
    node: str(r, 'node'),
    windowStart: str(r, 'window_start'),
    windowEnd: str(r, 'window_end'),
    firstTime: str(r, 'first_time'),
    lastTime: str(r, 'last_time'),
    count: num(r, 'count'),
    severity: severityOf(r, 'severity'),
    latestAlertId: str(r, 'latest_alert_id'),
  };
}
