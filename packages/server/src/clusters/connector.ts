/**
 * The cluster connector: one snapshot of a registered cluster, end to end. It builds a
 * KubeClient from the stored (decrypted, in memory only) kubeconfig, takes a paged snapshot,
 * diffs it against the stored inventory's index, runs the posture checks over the objects, and
 * stores the snapshot, its changes, the new inventory, the findings and the ranked attack paths
 * in one transaction. Attack paths are ranked with the stored scan results of the images the
 * snapshot runs (attack-paths.ts), read when the snapshot is recorded: an image scanned after a
 * snapshot shows in the paths of the next complete one.
 *
 * A kubeconfig with an exec credential plugin is refused before anything runs unless
 * `allowExecPlugins` is on (status `exec_disabled`): the plugin is a command on this host.
 *
 * An incomplete snapshot (a list failed, the API server stopped answering) is stored flagged
 * incomplete with its errors and counts only: it replaces neither the inventory nor the
 * findings of the last complete one, and records no changes (a kind that was not read would
 * look removed). A snapshot that cannot start (credential refused, exec plugin failing,
 * unreachable) stores nothing; the cluster's status says why.
 *
 * Memory: the snapshot's objects (takeSnapshot returns them together) plus the previous
 * inventory's index (uid, resourceVersion and fingerprint per object), never the previous bodies.
 */
import { PalisadeError, systemClock, toPalisadeError, type Clock } from '@palisade/core';
import {
  KubeClient,
  diffSnapshots,
  takeSnapshot,
  type ClusterConfig,
  type KubeObject,
  type ObjectRef,
  type Snapshot,
} from '@palisade/kube';
import { scanManifests, type PostureInput, type PostureOptions } from '@palisade/posture';
import type {
  ChangeInput,
  Cluster,
  ClusterErrorCode,
  ClusterFindingInput,
  ClusterSnapshot,
  ClusterStatus,
  InventoryIndexEntry,
  Storage,
} from '../storage/index.js';
import { DEFAULT_ATTACK_PATHS_KEPT, DEFAULT_SNAPSHOTS_KEPT } from '../storage/index.js';
import { attackPathsOfSnapshot, snapshotImageVulns } from './attack-paths.js';
import { countByKind, describeAdded, describeModification, fingerprint, inventoryRow } from './inventory.js';
import { execDisabledMessage, parseKubeconfigText } from './kubeconfig.js';

export interface ConnectorOptions {
  storage: Storage;
  clock?: Clock;
  /** Snapshots kept per cluster. Default 96 (a day at 15 min). */
  keepSnapshots?: number;
  /** Objects per list page. Default 500. */
  pageSize?: number;
  /** Per API request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Cap on one snapshot's objects. Default 200 000. */
  maxObjects?: number;
  /** Attack paths kept per cluster, the highest ranked. Default 100. */
  maxAttackPaths?: number;
  /**
   * Run the exec credential plugin of a stored kubeconfig (server config `clusters.allowExecPlugins`).
   * Default false: such a cluster gets the status `exec_disabled` and nothing is run.
   */
  allowExecPlugins?: boolean;
  /** Posture settings (PSS level and version, skipped checks, catalogue). */
  posture?: Pick<PostureOptions, 'pssLevel' | 'pssVersion' | 'skip' | 'checks'>;
  /** Builds the API client (tests wrap it); default `new KubeClient(config, {requestTimeoutMs})`. */
  clientFactory?: (config: ClusterConfig, options: { requestTimeoutMs: number }) => KubeClient;
}

export interface SnapshotOutcome {
  clusterId: string;
  cluster: string;
  status: ClusterStatus;
  /** The stored snapshot; null when none could be taken (or the cluster has no kubeconfig). */
  snapshot: ClusterSnapshot | null;
  error: string | null;
}

export interface ClusterConnector {
  /** Snapshot one cluster now. Cluster-side failures end up in the outcome and the cluster's status, not thrown. */
  snapshotCluster(clusterId: string, options?: { signal?: AbortSignal }): Promise<SnapshotOutcome>;
}

/** Controllers whose children (pods of a ReplicaSet, ReplicaSets of a Deployment) are judged through them. */
const CONTROLLER_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

export function createClusterConnector(opts: ConnectorOptions): ClusterConnector {
  const { storage } = opts;
  const clock = opts.clock ?? systemClock;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  // Plugins of registered kubeconfigs get a minimal environment: never the server's
  // PALISADE_SECRET_KEY, DATABASE_URL or admin token.
  const makeClient = opts.clientFactory ?? ((config, o) => new KubeClient(config, { ...o, execEnv: 'minimal' }));

  return {
    async snapshotCluster(clusterId, options = {}) {
      const cluster = await storage.clusters.get(clusterId);
      if (!cluster) throw new PalisadeError('E_NOT_FOUND', 'no such cluster', { subject: clusterId });
      if (!cluster.hasKubeconfig)
        return { clusterId, cluster: cluster.name, status: 'agent_only', snapshot: null, error: null };
      const attemptAt = clock.now().toISOString();
      const failed = async (code: ClusterErrorCode, message: string): Promise<SnapshotOutcome> => {
        const after = await storage.clusters.setStatus(clusterId, { attemptAt, errorCode: code, error: message });
        return { clusterId, cluster: cluster.name, status: after?.status ?? code, snapshot: null, error: message };
      };

      let config: ClusterConfig;
      try {
        const text = await storage.clusters.kubeconfig(clusterId);
        if (text === null) throw new PalisadeError('E_CONFIG', 'no kubeconfig stored', { subject: cluster.name });
        // Parsed with exec allowed only to say precisely what is refused; nothing has run yet.
        const parsed = parseKubeconfigText(text, cluster.context ?? undefined, 'kubeconfig', { allowExec: true });
        if (parsed.exec !== null && opts.allowExecPlugins !== true)
          return failed('exec_disabled', `kubeconfig: ${parsed.exec.at}: ${execDisabledMessage(parsed.exec.command)}`);
        config = parsed.config;
      } catch (err) {
        return failed('config', `stored kubeconfig cannot be used: ${toPalisadeError(err).describe()}`);
      }
      // Findings and errors name the cluster as registered, not the kubeconfig's context name.
      const client = makeClient({ ...config, name: cluster.name }, { requestTimeoutMs });
      // Stopping the server aborts: closing the client's sockets ends the request in flight.
      const onAbort = (): void => client.close();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let snap: Snapshot;
      try {
        snap = await takeSnapshot(client, {
          clock,
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
          ...(opts.maxObjects !== undefined ? { maxObjects: opts.maxObjects } : {}),
        });
      } catch (err) {
        options.signal?.throwIfAborted();
        const e = toPalisadeError(err);
        return failed(classify(e), e.describe());
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
        client.close();
      }
      // An aborted snapshot is ours, not the cluster's: hand the job back instead of storing it.
      options.signal?.throwIfAborted();
      const stored = snap.complete
        ? await recordComplete(storage, cluster, snap, clock, opts)
        : await storage.clusters.recordSnapshot({
            clusterId,
            takenAt: snap.takenAt,
            finishedAt: clock.now().toISOString(),
            complete: false,
            errors: snap.errors,
            notServed: snap.notServed,
            counts: countByKind(snap.objects),
            keep: opts.keepSnapshots ?? DEFAULT_SNAPSHOTS_KEPT,
          });
      const code = snap.complete ? null : incompleteCode(snap);
      const error = snap.complete ? null : incompleteMessage(snap);
      const after = await storage.clusters.setStatus(clusterId, { attemptAt, errorCode: code, error });
      return { clusterId, cluster: cluster.name, status: after?.status ?? 'ok', snapshot: stored, error };
    },
  };
}

async function recordComplete(
  storage: Storage,
  cluster: Cluster,
  snap: Snapshot,
  clock: Clock,
  opts: ConnectorOptions,
): Promise<ClusterSnapshot> {
  const previous = await storage.clusters.inventoryIndex(cluster.id);
  // The first snapshot has nothing to differ from: no changes rather than everything "added".
  const changes = cluster.lastCompleteSnapshotId === null ? null : changesBetween(previous, snap.objects);
  const findings = assess(snap, cluster.name, opts.posture ?? {});
  // Scan results as they are now: a later scan of one of these images counts from the next snapshot.
  const vulns = await snapshotImageVulns(storage, snap.objects);
  const attackPaths = attackPathsOfSnapshot(snap.objects, vulns, opts.maxAttackPaths ?? DEFAULT_ATTACK_PATHS_KEPT);
  return storage.clusters.recordSnapshot({
    clusterId: cluster.id,
    takenAt: snap.takenAt,
    finishedAt: clock.now().toISOString(),
    complete: true,
    errors: [],
    notServed: snap.notServed,
    counts: countByKind(snap.objects),
    // Rows are built as they are inserted: one compressed body at a time, not a second copy.
    objects: (function* () {
      for (const o of snap.objects) yield inventoryRow(o);
    })(),
    changes,
    findings,
    attackPaths,
    keep: opts.keepSnapshots ?? DEFAULT_SNAPSHOTS_KEPT,
  });
}

/**
 * Added and removed by uid (diffSnapshots); of the objects whose resourceVersion moved, only
 * those whose fingerprint differs are modifications (status updates bump it constantly).
 */
export function changesBetween(previous: readonly InventoryIndexEntry[], objects: KubeObject[]): ChangeInput[] {
  const stub = (e: InventoryIndexEntry): KubeObject => ({
    apiVersion: e.apiVersion,
    kind: e.kind,
    metadata: {
      name: e.name,
      ...(e.namespace !== null ? { namespace: e.namespace } : {}),
      ...(e.uid !== null ? { uid: e.uid } : {}),
      ...(e.resourceVersion !== null ? { resourceVersion: e.resourceVersion } : {}),
    },
  });
  const diff = diffSnapshots({ objects: previous.map(stub) }, { objects });
  const key = (r: { kind: string; namespace?: string | null | undefined; name: string }): string =>
    `${r.kind}\u0000${r.namespace ?? ''}\u0000${r.name}`;
  const before = new Map(previous.map((e) => [key(e), e]));
  const now = new Map<string, KubeObject>();
  for (const o of objects) now.set(key(refOf(o)), o);
  const out: ChangeInput[] = [];
  const row = (r: ObjectRef, change: ChangeInput['change'], summary: string): ChangeInput => ({
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.namespace ?? null,
    name: r.name,
    change,
    summary,
  });
  for (const r of diff.added) {
    const o = now.get(key(r));
    const recreated = before.get(key(r));
    out.push(row(r, 'added', `${recreated ? 're-created (new uid); ' : ''}${o ? describeAdded(o) : 'added'}`));
  }
  for (const r of diff.removed) out.push(row(r, 'removed', 'removed'));
  for (const r of diff.changed) {
    const o = now.get(key(r));
    const old = before.get(key(r));
    if (!o || !old) continue;
    const what = describeModification(old.fingerprint, fingerprint(o));
    if (what !== null) out.push(row(r, 'modified', what));
  }
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.change < b.change ? -1 : 1));
}

function refOf(o: KubeObject): { kind: string; namespace: string | null; name: string } {
  const meta = (typeof o['metadata'] === 'object' && o['metadata'] !== null ? o['metadata'] : {}) as Record<
    string,
    unknown
  >;
  return {
    kind: typeof o['kind'] === 'string' ? o['kind'] : '',
    namespace: typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : null,
    name: typeof meta['name'] === 'string' ? meta['name'] : '',
  };
}

/**
 * Posture findings of a complete snapshot. Objects made by a controller in the snapshot are
 * judged through the controller (a Deployment's findings, not once more per ReplicaSet and pod).
 */
export function assess(
  snap: Snapshot,
  clusterName: string,
  posture: NonNullable<ConnectorOptions['posture']>,
): ClusterFindingInput[] {
  const controllers = new Set<string>();
  for (const o of snap.objects) {
    const uid = (o['metadata'] as { uid?: unknown } | undefined)?.uid;
    if (CONTROLLER_KINDS.has(String(o['kind'])) && typeof uid === 'string') controllers.add(uid);
  }
  const file = `cluster ${clusterName}`;
  function* inputs(): Generator<PostureInput> {
    for (const o of snap.objects) {
      const owners = (o['metadata'] as { ownerReferences?: unknown } | undefined)?.ownerReferences;
      const controlled =
        Array.isArray(owners) &&
        owners.some(
          (r: { controller?: unknown; uid?: unknown }) =>
            r.controller === true && typeof r.uid === 'string' && controllers.has(r.uid),
        );
      if (!controlled) yield { file, text: JSON.stringify(o) };
    }
  }
  const report = scanManifests(inputs(), { ...posture, cluster: clusterName });
  return report.misconfigurations.map((m) => ({
    id: m.id,
    checkId: m.checkId,
    checkVersion: m.checkVersion,
    title: m.title,
    severity: m.severity,
    apiVersion: m.resource.apiVersion ?? null,
    kind: m.resource.kind,
    namespace: m.resource.namespace ?? null,
    name: m.resource.name,
    path: m.path,
    message: m.message,
    remediation: m.remediation,
    frameworks: m.frameworks,
    pss: m.pss ?? null,
  }));
}

/** The status a failed snapshot start gives the cluster. */
export function classify(e: PalisadeError): ClusterErrorCode {
  const text = e.message;
  if (e.code === 'E_AUTH') {
    if (text.includes('HTTP 401')) return 'auth_expired';
    if (text.includes('HTTP 403')) return 'forbidden';
    return 'auth_failed';
  }
  if (text.includes('exec credential plugin')) return 'auth_failed';
  if (e.code === 'E_NETWORK' || e.code === 'E_TIMEOUT') return 'unreachable';
  if (e.code === 'E_CONFIG' || e.code === 'E_UNSUPPORTED') return 'config';
  return 'error';
}

function incompleteCode(snap: Snapshot): ClusterErrorCode {
  // A credential that expired mid-snapshot is the thing to fix, more than the missing kinds.
  return snap.errors.some((e) => e.message.includes('HTTP 401')) ? 'auth_expired' : 'incomplete';
}

function incompleteMessage(snap: Snapshot): string {
  const first = snap.errors.slice(0, 3).map((e) => `${e.kind}: ${e.message}`);
  const more = snap.errors.length > 3 ? `; and ${snap.errors.length - 3} more` : '';
  return `snapshot incomplete (${snap.errors.length} kind${snap.errors.length === 1 ? '' : 's'} not read; the last complete inventory and findings stand): ${first.join('; ')}${more}`;
}
