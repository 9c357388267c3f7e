/**
 * The runtime ingest contract: what a node's publisher (and the cluster's inventory collector)
 * sends to `POST /api/v1/ingest/runtime`, authenticated by the cluster's ingest token.
 *
 * Detection runs on the node (the collector evaluates the rule library and ships alerts with
 * the events that matched, as Falco does) and may also run in the server over forwarded raw
 * events (`events`), which is where rules that need more than one node's view run and what the
 * NATS JetStream detection workers consume. The body is JSON, optionally `Content-Encoding:
 * gzip`; a batch sent twice (same `batchId`) is accepted once, and alerts/events are
 * deduplicated by id.
 */
import type { Alert, RuntimeEvent } from './events.js';

/** Limits the server enforces on one batch (the publisher splits batches to stay under them). */
export const INGEST_LIMITS = {
  /** Alerts + events + kube events + containers in one batch. */
  maxItems: 5_000,
  /** Decompressed body size. */
  maxBytes: 16 * 1024 * 1024,
} as const;

/** Counter deltas since the sender's previous batch (so the server can sum them). */
export interface SensorCounterDelta {
  /** Events the kernel produced, by event type. */
  seen: Record<string, number>;
  /** Records the kernel could not reserve in the ring buffer. */
  kernelDrops: number;
  /** Events dropped in user space (bounded queues full, collector→publisher buffer full). */
  userDrops: number;
  /** Items the publisher's spool dropped because it was at its limit. */
  spoolDrops: number;
}

/** A Kubernetes Event (core/v1 or events.k8s.io/v1) as the inventory collector forwards it. */
export interface KubeEventRecord {
  /** The Event's metadata.uid: the dedupe key. */
  uid: string;
  time: string;
  type: string;
  reason: string;
  message: string;
  namespace: string;
  involved: { kind: string; name: string; namespace: string };
  count: number;
}

/**
 * A running (or just deleted) container as the inventory collector sees it in the cluster's
 * Pods: the context a node cannot always read from its runtime's state files (the workload
 * behind a ReplicaSet or Job, the image digest). The server keeps the newest record per
 * (cluster, containerId) and fills in what a node's events lack (docs/runtime-alerts.md).
 */
export interface KubeContainerRecord {
  /** The runtime's container id without its scheme (`containerd://`, `cri-o://`, `docker://`). */
  containerId: string;
  /** The container's name in its pod spec. */
  containerName: string;
  pod: string;
  namespace: string;
  /** spec.nodeName of the pod. */
  node: string;
  /** The pod's controller, one step up from a ReplicaSet (Deployment) or Job (CronJob); '' for a bare pod. */
  workloadKind: string;
  workloadName: string;
  serviceAccount: string;
  /** The image as the pod status names it (status.containerStatuses[].image). */
  image: string;
  /** `sha256:…` from status.containerStatuses[].imageID; '' when the runtime gave none. */
  imageDigest: string;
  podUid: string;
  /** RFC 3339 time the container started (state.running/terminated.startedAt), when known. */
  startedAt?: string;
  /** The container (or its pod) is gone: the server keeps the record a while for late alerts, then drops it. */
  deleted?: true;
}

export interface RuntimeIngestBatch {
  /** Unique per batch, chosen by the sender; a replayed batch is accepted once. */
  batchId: string;
  /** `collector` (via a node's publisher) or `inventory` (the cluster-level collector). */
  source: 'collector' | 'inventory';
  /** Node name for collector batches; the inventory collector's pod name otherwise. */
  node: string;
  sensorVersion: string;
  /** RFC 3339 time the batch was sealed. */
  sentAt: string;
  alerts: Alert[];
  events: RuntimeEvent[];
  kubeEvents?: KubeEventRecord[];
  /** Inventory batches only: container records (a full resync after a (re)list, then changes). */
  containers?: KubeContainerRecord[];
  counters?: SensorCounterDelta;
}

export interface RuntimeIngestResult {
  batchId: string;
  /** false when this batchId had been accepted before (nothing was stored again). */
  accepted: boolean;
  alerts: number;
  events: number;
  duplicates: number;
}
