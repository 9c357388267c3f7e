/**
 * Runtime alerts as the server stores and shows them: an Alert from `@palisade/core` (raised by a
 * node's collector or by the server's own detection) plus the cluster it came from and its
 * context flattened into columns the API filters on (workload, container, image, process, peer).
 */
import type {
  Alert,
  KubeContainerRecord,
  KubeEventRecord,
  MitreRef,
  RuntimeEvent,
  RuntimeIngestBatch,
  RuntimeIngestResult,
  Severity,
} from '@palisade/core';
import type { Page, PageQuery } from './types.js';

/** Where the alert was raised: on the node (shipped in `batch.alerts`) or by the server's rule engine. */
export type AlertOrigin = 'sensor' | 'server';

export interface AlertProcess {
  pid: number;
  exe: string;
  argv: string[];
}

/** The other end of the network event that raised the alert (destination of a connect, source of an accept). */
export interface AlertPeer {
  address: string;
  port: number;
  protocol: string;
  direction: 'outbound' | 'inbound' | 'listen';
}

export interface AlertRecord {
  /** The server's id: stableId(cluster, Alert.id), unique across clusters. */
  id: string;
  /** The sender's Alert.id (stableId(rule, event)), unique within the cluster. */
  alertId: string;
  clusterId: string;
  ruleId: string;
  severity: Severity;
  title: string;
  output: string;
  /** Time of the (last) triggering event, ISO-8601 UTC. */
  time: string;
  receivedAt: string;
  origin: AlertOrigin;
  node: string;
  namespace: string | null;
  pod: string | null;
  workloadKind: string | null;
  workloadName: string | null;
  containerId: string | null;
  containerName: string | null;
  image: string | null;
  imageDigest: string | null;
  process: AlertProcess | null;
  peer: AlertPeer | null;
  groupId: string;
  fields: Record<string, string>;
  mitre: MitreRef[];
  tags: string[];
  /** The sensor prevented the action (drift enforcement) rather than only reporting it. */
  blocked: boolean;
}

export interface AlertDetailRecord extends AlertRecord {
  /** The raw events that matched, as they were received. */
  events: RuntimeEvent[];
}

export interface AlertListQuery extends PageQuery {
  /** Exact severities. */
  severity?: Severity[];
  /** This severity or worse. */
  minSeverity?: Severity;
  ruleId?: string;
  clusterId?: string;
  namespace?: string;
  node?: string;
  groupId?: string;
  /** Inclusive lower bound on the alert's time (ISO-8601). */
  from?: string;
  /** Exclusive upper bound on the alert's time. */
  to?: string;
}

/** Alerts of one rule on one workload within one time window. */
export interface AlertGroup {
  id: string;
  clusterId: string;
  ruleId: string;
  title: string;
  /** What "the same workload" was: `k8s:<namespace>/<kind>/<name>` or `host:<node>/<image>`. */
  workloadKey: string;
  namespace: string | null;
  workloadKind: string | null;
  workloadName: string | null;
  image: string | null;
  node: string;
  windowStart: string;
  windowEnd: string;
  firstTime: string;
  lastTime: string;
  count: number;
  /** The worst severity among the group's alerts. */
  severity: Severity;
  /** The newest alert of the group (by event time). */
  latestAlertId: string;
}

export interface AlertGroupQuery extends PageQuery {
  severity?: Severity[];
  minSeverity?: Severity;
  ruleId?: string;
  clusterId?: string;
  namespace?: string;
  /** Groups whose last alert is at or after this time. */
  from?: string;
  /** Groups whose first alert is before this time. */
  to?: string;
}

/** What one node's sensor reported about itself, summed over its batches. */
export interface SensorCounters {
  clusterId: string;
  node: string;
  /** Events the kernel produced, by event type. */
  seen: Record<string, number>;
  kernelDrops: number;
  userDrops: number;
  spoolDrops: number;
  batches: number;
  sensorVersion: string;
  lastReportAt: string;
}

export interface KubeEventStored extends KubeEventRecord {
  clusterId: string;
  receivedAt: string;
}

/** A container record as the server keeps it (from the cluster's inventory collector). */
export interface KubeContainerStored extends KubeContainerRecord {
  clusterId: string;
  /** When the record was first and last received (ISO-8601). */
  firstSeen: string;
  lastSeen: string;
  /** When its deletion was received; null while it runs. */
  deletedAt: string | null;
}

export interface KubeContainerQuery {
  clusterId: string;
  namespace?: string;
  containerId?: string;
  /** Also deleted containers (kept a while for late alerts); default false. */
  includeDeleted?: boolean;
  /** Default 50, at most 500. */
  limit?: number;
}

/** A batch as the repository takes it: the sender's batch plus the alerts the server raised on its events. */
export interface AlertIngest {
  clusterId: string;
  batch: RuntimeIngestBatch;
  /** Alerts raised by the server's rule engine on `batch.events` (merged with `batch.alerts` by id). */
  detected?: readonly Alert[];
  /** Width of the grouping window; default 10 minutes. */
  groupWindowMs?: number;
  /**
   * Nodes (distinct `batch.node`) kept per cluster in the sensor counters; a batch from one more
   * node is refused (E_INPUT naming body.node). Default 5,000.
   */
  maxNodesPerCluster?: number;
}

export interface RuntimePruneOptions {
  /** Alerts older than this (event time), groups whose last alert is older, nodes silent since, are removed. ISO-8601. */
  before: string;
  /** Ingest batch ids received before this are forgotten (default: `before`). ISO-8601. */
  batchesBefore?: string;
  /** Rows per DELETE statement; default 1,000. */
  batchSize?: number;
  /** Rows removed per table per call at most; default 100,000 (the next run goes on). */
  maxRowsPerTable?: number;
  /** Container records deleted before this are removed (default: `before`). ISO-8601. */
  containersDeletedBefore?: string;
  /** Container records not reported since this are removed (default: `before`). ISO-8601. */
  containersStaleBefore?: string;
}

/** Rows removed by one prune call, per kind. */
export interface RuntimePruneResult {
  alerts: number;
  groups: number;
  nodes: number;
  kubeEvents: number;
  /** Container records deleted or no longer reported. */
  containers: number;
  batches: number;
  /** Clusters no longer registered whose runtime rows were removed. */
  orphanClusters: number;
  /** True when a table had more to remove than maxRowsPerTable: run again. */
  more: boolean;
}

export interface AlertRepository {
  /**
   * Store one batch in one transaction: the batch id is recorded (a batch seen before changes
   * nothing and comes back with `accepted: false`), new alerts are inserted (an alert id already
   * stored is a duplicate), their groups updated, sensor counters added, Kubernetes events and
   * container records kept.
   */
  ingest(input: AlertIngest): Promise<RuntimeIngestResult>;
  /** Newest first (by event time, then id). */
  list(query?: AlertListQuery): Promise<Page<AlertRecord>>;
  get(id: string): Promise<AlertDetailRecord | null>;
  /** Newest first (by last alert time, then id). */
  groups(query?: AlertGroupQuery): Promise<Page<AlertGroup>>;
  getGroup(id: string): Promise<AlertGroup | null>;
  /** Per node, sorted by cluster then node. */
  counters(clusterId?: string): Promise<SensorCounters[]>;
  /** Newest first, at most `limit` (default 100, at most 500). */
  kubeEvents(clusterId: string, limit?: number): Promise<KubeEventStored[]>;
  /**
   * The inventory's records of these container ids in a cluster (deleted ones included), by id:
   * what the runtime pipeline fills missing context from. One query for up to 5,000 ids.
   */
  containerContext(clusterId: string, containerIds: readonly string[]): Promise<Map<string, KubeContainerStored>>;
  /** A cluster's container records, most recently reported first. */
  containers(query: KubeContainerQuery): Promise<KubeContainerStored[]>;
  /** Retention: remove what is older than `before`, in bounded batches (docs/runtime-alerts.md). */
  prune(opts: RuntimePruneOptions): Promise<RuntimePruneResult>;
  /** Everything runtime of a cluster (alerts, groups, counters, kube events, containers, batch ids), in one transaction; rows removed. */
  deleteCluster(clusterId: string): Promise<number>;
}
