/**
 * Cluster snapshots as scheduler work. Each cluster with a kubeconfig is due when its last
 * attempt is at least its interval old (or it never had one); every scheduler tick queues one
 * `cluster-snapshot` job per due cluster with the dedupe key `cluster-snapshot:<id>`, so however
 * many replicas tick, one job per cluster is queued or running, and the replica that claims it
 * runs it under a renewed lease (a killed replica's job is recovered by another). Due-ness comes
 * from the cluster row, which the connector updates on every attempt, failed ones included, so
 * a cluster that does not answer is retried at its interval, not at every tick.
 *
 * POST /api/v1/clusters/{id}/snapshots queues the same job to run now (or returns the one already
 * queued or running).
 */
import { PalisadeError } from '@palisade/core';
import type { EnqueueResult, Job, Storage } from '../storage/index.js';
import type { SchedulerTask } from '../scheduler/index.js';
import type { ClusterConnector, SnapshotOutcome } from './connector.js';

export const CLUSTER_SNAPSHOT_JOB_KIND = 'cluster-snapshot';
/** Attempts of one snapshot job (failures of the cluster itself are an outcome, not a failed attempt). */
const MAX_ATTEMPTS = 3;

export function clusterSnapshotDedupeKey(clusterId: string): string {
  return `${CLUSTER_SNAPSHOT_JOB_KIND}:${clusterId}`;
}

/** Queue a snapshot of the cluster to run now; a queued or running one is returned instead. */
export async function requestClusterSnapshot(storage: Storage, clusterId: string, now: Date): Promise<EnqueueResult> {
  return storage.jobs.enqueue({
    kind: CLUSTER_SNAPSHOT_JOB_KIND,
    payload: { clusterId },
    dedupeKey: clusterSnapshotDedupeKey(clusterId),
    runAt: now.toISOString(),
    maxAttempts: MAX_ATTEMPTS,
  });
}

export function isSnapshotDue(
  cluster: { hasKubeconfig: boolean; lastAttemptAt: string | null; intervalSeconds: number },
  now: Date,
): boolean {
  if (!cluster.hasKubeconfig) return false;
  if (cluster.lastAttemptAt === null) return true;
  return Date.parse(cluster.lastAttemptAt) + cluster.intervalSeconds * 1000 <= now.getTime();
}

/** The scheduler task that keeps every cluster snapshotted at its interval. */
export function clusterSnapshotTask(connector: ClusterConnector): SchedulerTask {
  return {
    kind: CLUSTER_SNAPSHOT_JOB_KIND,
    async ensure(storage, now) {
      const created: string[] = [];
      for (const c of await storage.clusters.list()) {
        if (!isSnapshotDue(c, now)) continue;
        const r = await requestClusterSnapshot(storage, c.id, now);
        if (r.created) created.push(clusterSnapshotDedupeKey(c.id));
      }
      return created;
    },
    async run(job: Job, _now, signal): Promise<SnapshotOutcome | null> {
      const clusterId = payloadClusterId(job.payload);
      if (clusterId === null)
        throw new PalisadeError('E_INPUT', 'cluster-snapshot job without a clusterId', { subject: job.id });
      try {
        return await connector.snapshotCluster(clusterId, { signal });
      } catch (err) {
        // Deleted since it was queued: nothing to do.
        if (err instanceof PalisadeError && err.code === 'E_NOT_FOUND') return null;
        throw err;
      }
    },
  };
}

function payloadClusterId(payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const id = (payload as Record<string, unknown>)['clusterId'];
  return typeof id === 'string' ? id : null;
}
