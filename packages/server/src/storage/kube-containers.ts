/**
 * Container records from a cluster's inventory collector (KubeContainerRecord), one row per
 * (cluster, container id) with when it was first and last reported and when it was deleted:
 * what the runtime pipeline reads, one batched query per ingest batch, to fill in the Kubernetes
 * context of events whose node could not resolve it (docs/runtime-alerts.md).
 *
 * A deleted container is kept a while (late alerts from a publisher's spool still find their
 * context) and pruned by the runtime retention, as are records the collector stopped reporting
 * (it sends every record again hourly) — and each cluster keeps at most `keep` rows.
 */
import type { KubeContainerRecord } from '@palisade/core';
import { clampLimit } from './paging.js';
import { first, optStr, Params, str, type Row, type SqlExecutor, type SqlValue } from './sql.js';
import type { KubeContainerQuery, KubeContainerStored } from './alert-types.js';

/** Migration 7. */
export const KUBE_CONTAINERS_SQL = `
CREATE TABLE kube_containers (
  cluster_id TEXT NOT NULL,
  container_id TEXT NOT NULL,
  container_name TEXT NOT NULL,
  pod TEXT NOT NULL,
  namespace TEXT NOT NULL,
  node TEXT NOT NULL,
  workload_kind TEXT NOT NULL,
  workload_name TEXT NOT NULL,
  service_account TEXT NOT NULL,
  image TEXT NOT NULL,
  image_digest TEXT NOT NULL,
  pod_uid TEXT NOT NULL,
  started_at TEXT,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  deleted_at TEXT,
  PRIMARY KEY (cluster_id, container_id)
);
CREATE INDEX kube_containers_cluster_seen ON kube_containers (cluster_id, last_seen, container_id);
CREATE INDEX kube_containers_seen ON kube_containers (last_seen);
CREATE INDEX kube_containers_deleted ON kube_containers (deleted_at)
`;

/** Container records kept per cluster (the most recently reported). */
export const DEFAULT_CONTAINERS_PER_CLUSTER = 200_000;

/** Ids per lookup query: far below both engines' parameter limits; a real batch needs one query. */
const LOOKUP_CHUNK = 5_000;
/** Rows per multi-row INSERT (16 columns). */
const INSERT_CHUNK = 100;

const COLUMNS = [
  'cluster_id',
  'container_id',
  'container_name',
  'pod',
  'namespace',
  'node',
  'workload_kind',
  'workload_name',
  'service_account',
  'image',
  'image_digest',
  'pod_uid',
  'started_at',
  'first_seen',
  'last_seen',
  'deleted_at',
] as const;

/**
 * Upsert the records of one inventory batch. Within the batch the last record of a container
 * wins (a change, then its deletion); a deleted container stays deleted (an id is never reused,
 * so a late live record, e.g. from a NATS redelivery out of order, cannot bring it back).
 */
export async function storeContainers(
  ex: SqlExecutor,
  clusterId: string,
  records: readonly KubeContainerRecord[],
  receivedAt: string,
  keep: number,
): Promise<void> {
  if (records.length === 0) return;
  const byId = new Map<string, KubeContainerRecord>();
  for (const r of records) byId.set(r.containerId, r);
  // Sorted: concurrent PostgreSQL writers lock rows in the same order.
  const rows = [...byId.values()].sort((a, b) => (a.containerId < b.containerId ? -1 : 1));
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const p = new Params();
    const tuples = rows.slice(i, i + INSERT_CHUNK).map((r) => {
      const v: SqlValue[] = [
        clusterId,
        r.containerId,
        r.containerName,
        r.pod,
        r.namespace,
        r.node,
        r.workloadKind,
        r.workloadName,
        r.serviceAccount,
        r.image,
        r.imageDigest,
        r.podUid,
        r.startedAt === undefined ? null : new Date(Date.parse(r.startedAt)).toISOString(),
        receivedAt,
        receivedAt,
        r.deleted === true ? receivedAt : null,
      ];
      return `(${v.map((x) => p.add(x)).join(', ')})`;
    });
    await ex.run(
      `INSERT INTO kube_containers (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
       ON CONFLICT (cluster_id, container_id) DO UPDATE SET
         container_name = excluded.container_name, pod = excluded.pod, namespace = excluded.namespace,
         node = excluded.node, workload_kind = excluded.workload_kind, workload_name = excluded.workload_name,
         service_account = excluded.service_account, image = excluded.image, image_digest = excluded.image_digest,
         pod_uid = excluded.pod_uid, started_at = COALESCE(excluded.started_at, kube_containers.started_at),
         last_seen = CASE WHEN excluded.last_seen > kube_containers.last_seen
           THEN excluded.last_seen ELSE kube_containers.last_seen END,
         deleted_at = COALESCE(kube_containers.deleted_at, excluded.deleted_at)`,
      p.values,
    );
  }
  // Bounded per cluster: drop what was reported least recently past the keep-th row.
  const edge = await first(
    ex,
    'SELECT last_seen, container_id FROM kube_containers WHERE cluster_id = $1 ORDER BY last_seen DESC, container_id DESC LIMIT 1 OFFSET $2',
    [clusterId, keep],
  );
  if (edge) {
    await ex.run('DELETE FROM kube_containers WHERE cluster_id = $1 AND (last_seen, container_id) <= ($2, $3)', [
      clusterId,
      str(edge, 'last_seen'),
      str(edge, 'container_id'),
    ]);
  }
}

function toStored(r: Row): KubeContainerStored {
  const startedAt = optStr(r, 'started_at');
  const deletedAt = optStr(r, 'deleted_at');
  return {
    clusterId: str(r, 'cluster_id'),
    containerId: str(r, 'container_id'),
    containerName: str(r, 'container_name'),
    pod: str(r, 'pod'),
    namespace: str(r, 'namespace'),
    node: str(r, 'node'),
    workloadKind: str(r, 'workload_kind'),
    workloadName: str(r, 'workload_name'),
    serviceAccount: str(r, 'service_account'),
    image: str(r, 'image'),
    imageDigest: str(r, 'image_digest'),
    podUid: str(r, 'pod_uid'),
    ...(startedAt !== null ? { startedAt } : {}),
    ...(deletedAt !== null ? { deleted: true as const } : {}),
    firstSeen: str(r, 'first_seen'),
    lastSeen: str(r, 'last_seen'),
    deletedAt,
  };
}

/** The records of these container ids in a cluster (deleted ones included), by id: one query per 5,000 ids. */
export async function lookupContainers(
  ex: SqlExecutor,
  clusterId: string,
  ids: readonly string[],
): Promise<Map<string, KubeContainerStored>> {
  const out = new Map<string, KubeContainerStored>();
  const distinct = [...new Set(ids)].sort();
  for (let i = 0; i < distinct.length; i += LOOKUP_CHUNK) {
    const p = new Params();
    const cluster = p.add(clusterId);
    const rows = await ex.all(
      `SELECT * FROM kube_containers WHERE cluster_id = ${cluster} AND container_id IN (${p.list(distinct.slice(i, i + LOOKUP_CHUNK))})`,
      p.values,
    );
    for (const r of rows) out.set(str(r, 'container_id'), toStored(r));
  }
  return out;
}

/** A cluster's records, most recently reported first (then by id), at most `limit` (default 50, at most 500). */
export async function listContainers(ex: SqlExecutor, query: KubeContainerQuery): Promise<KubeContainerStored[]> {
  const p = new Params();
  const where = [`cluster_id = ${p.add(query.clusterId)}`];
  if (query.namespace !== undefined) where.push(`namespace = ${p.add(query.namespace)}`);
  if (query.containerId !== undefined) where.push(`container_id = ${p.add(query.containerId)}`);
  if (query.includeDeleted !== true) where.push('deleted_at IS NULL');
  const rows = await ex.all(
    `SELECT * FROM kube_containers WHERE ${where.join(' AND ')}
     ORDER BY last_seen DESC, container_id LIMIT ${clampLimit(query.limit)}`,
    p.values,
  );
  return rows.map(toStored);
}
