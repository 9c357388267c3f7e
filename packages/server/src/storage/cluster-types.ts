/**
 * Connected clusters as the server stores them: the cluster (its sealed kubeconfig never part of
 * a record), its discovery snapshots, what changed between two complete snapshots, the
 * inventory of the latest complete snapshot and its posture findings.
 */
import type { FrameworkMapping, PssFinding, Severity } from '@palisade/core';
import type { Page, PageQuery } from './types.js';

/**
 * Why the last snapshot attempt did not give a whole inventory:
 * - `auth_expired`: the API server refused the credential (HTTP 401: expired or revoked);
 * - `auth_failed`: no credential could be produced (exec plugin failed, unreadable token);
 * - `forbidden`: authenticated, but not allowed to read discovery (HTTP 403: RBAC missing);
 * - `unreachable`: connection refused, reset or timed out before anything was read;
 * - `incomplete`: some lists failed (the snapshot is stored flagged incomplete);
 * - `config`: the stored kubeconfig cannot be used (no such context, malformed);
 * - `exec_disabled`: the kubeconfig needs an exec credential plugin and the server's
 *   `clusters.allowExecPlugins` is off (nothing was run);
 * - `error`: anything else.
 */
export const CLUSTER_ERROR_CODES = [
  'auth_expired',
  'auth_failed',
  'forbidden',
  'unreachable',
  'incomplete',
  'config',
  'exec_disabled',
  'error',
] as const;
export type ClusterErrorCode = (typeof CLUSTER_ERROR_CODES)[number];

/**
 * `agent_only`: no kubeconfig (the cluster only sends runtime and audit data with its ingest
 * token); `pending`: never snapshotted yet; `ok`: the last attempt gave a complete snapshot;
 * otherwise the error code of the last attempt.
 */
export const CLUSTER_STATUSES = ['agent_only', 'pending', 'ok', ...CLUSTER_ERROR_CODES] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

/** A cluster as it may be shown: neither its kubeconfig nor its ingest token hash is part of it. */
export interface Cluster {
  id: string;
  name: string;
  /** The kubeconfig context the server uses; null without a kubeconfig. */
  context: string | null;
  hasKubeconfig: boolean;
  /** Seconds between snapshots. */
  intervalSeconds: number;
  /** The first characters of the current ingest token (`pal_in_AbCd`), to recognize it. */
  ingestTokenPrefix: string | null;
  status: ClusterStatus;
  /** When the last snapshot attempt started (whatever its outcome). */
  lastAttemptAt: string | null;
  /** The latest stored snapshot, complete or not. */
  lastSnapshotId: string | null;
  lastSnapshotAt: string | null;
  /** The latest complete snapshot: the one the inventory and findings come from. */
  lastCompleteSnapshotId: string | null;
  lastCompleteSnapshotAt: string | null;
  lastError: string | null;
  lastErrorCode: ClusterErrorCode | null;
  createdAt: string;
  updatedAt: string;
}

export interface ClusterInput {
  name: string;
  /** Kubeconfig text (YAML or JSON); sealed at rest. Absent: agent-only cluster. */
  kubeconfig?: string;
  /** The context of the kubeconfig to use (the caller has resolved current-context). */
  context?: string;
  /** Default 900 (15 min). */
  intervalSeconds?: number;
}

export interface CreatedCluster {
  cluster: Cluster;
  /** Plaintext ingest token, shown once: only its hash is stored. */
  ingestToken: string;
}

/** The outcome of an attempt, for setStatus: code null means the attempt succeeded. */
export interface ClusterStatusUpdate {
  attemptAt: string;
  errorCode: ClusterErrorCode | null;
  error: string | null;
}

export interface SnapshotError {
  kind: string;
  message: string;
}

export interface ChangeCounts {
  added: number;
  removed: number;
  modified: number;
}

export interface ClusterSnapshot {
  id: string;
  clusterId: string;
  takenAt: string;
  finishedAt: string;
  durationMs: number;
  /** False when some list failed: then the snapshot's objects are not stored and it judged nothing. */
  complete: boolean;
  errors: SnapshotError[];
  /** Kinds the cluster does not serve (e.g. the Gateway API), `apiVersion/Kind`. */
  notServed: string[];
  /** Objects read, by Kind. */
  counts: Record<string, number>;
  objects: number;
  /** Changes since the previous complete snapshot; null for an incomplete snapshot or the first one. */
  changes: ChangeCounts | null;
  /** Posture findings of the snapshot; null when incomplete (the previous findings stand). */
  findings: number | null;
  /** Attack paths stored from it; null when incomplete or taken before attack paths were kept. */
  attackPaths: number | null;
}

/** One object of the latest complete snapshot, as the inventory shows it. Never any secret value. */
export interface InventoryObject {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string | null;
  resourceVersion: string | null;
  createdAt: string | null;
  labels: Record<string, string>;
  /** Kind-specific facts (a pod's containers, images and image digests; a service's ports…). */
  summary: Record<string, unknown>;
}

/** What the connector hands storage per object: the inventory row plus its change fingerprint and body. */
export interface InventoryObjectInput extends InventoryObject {
  /** Hashes of the object's parts (`spec`, `labels`…): a change in one is a modification. */
  fingerprint: Record<string, string>;
  /** The object with secret-bearing fields removed, gzip'd and base64'd. */
  body: string;
}

/** The part of a stored object a diff needs (the previous snapshot's index). */
export interface InventoryIndexEntry {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string | null;
  resourceVersion: string | null;
  fingerprint: Record<string, string>;
}

export const CHANGE_TYPES = ['added', 'removed', 'modified'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

export interface ChangeInput {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  change: ChangeType;
  /** One line: what changed (`spec, labels`, `image digests`…). */
  summary: string;
}

export interface ClusterChange extends ChangeInput {
  clusterId: string;
  snapshotId: string;
  takenAt: string;
}

export interface ClusterFindingInput {
  /** The posture finding's stable id. */
  id: string;
  checkId: string;
  checkVersion: number;
  title: string;
  severity: Severity;
  apiVersion: string | null;
  kind: string;
  namespace: string | null;
  name: string;
  path: string;
  message: string;
  remediation: string;
  frameworks: FrameworkMapping;
  pss: PssFinding | null;
}

export interface ClusterFinding extends ClusterFindingInput {
  clusterId: string;
  snapshotId: string;
}

export interface SnapshotRecordInput {
  clusterId: string;
  takenAt: string;
  finishedAt: string;
  complete: boolean;
  errors: readonly SnapshotError[];
  notServed: readonly string[];
  counts: Readonly<Record<string, number>>;
  /**
   * Complete snapshots only: the whole inventory (replaces the stored one), the changes since
   * the previous complete snapshot (null for the first one) and the posture findings (replace
   * the stored ones). Ignored for an incomplete snapshot.
   */
  objects?: Iterable<InventoryObjectInput>;
  changes?: readonly ChangeInput[] | null;
  findings?: readonly ClusterFindingInput[];
  /** Complete snapshots only: the ranked attack paths (replace the stored ones). */
  attackPaths?: readonly ClusterAttackPathInput[];
  /** Snapshots kept per cluster (older ones and their changes are pruned); default 96. */
  keep?: number;
}

export interface InventoryQuery extends PageQuery {
  kind?: string;
  namespace?: string;
  /** Substring of the name (case-insensitive). */
  name?: string;
}

export interface ChangeQuery extends PageQuery {
  /** Changes recorded by this snapshot only. */
  snapshotId?: string;
  /** Changes of snapshots taken at or after this time (ISO-8601). */
  since?: string;
  kind?: string;
  namespace?: string;
  change?: ChangeType;
}

export interface ClusterFindingQuery extends PageQuery {
  severity?: Severity[];
  checkId?: string;
  namespace?: string;
  kind?: string;
}

/** Vulnerability counts of one image, as attack paths rank them (distinct vulnerability ids). */
export interface ImageVulnCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  /** In CISA's Known Exploited Vulnerabilities catalogue. */
  kev: number;
  /** With a fixed version available (any severity). */
  fixable: number;
  /** Highest EPSS probability among them; absent when none has one. */
  epss?: number;
}

/** What the stored scan results say of one scanned digest. */
export interface DigestVulnRecord extends ImageVulnCounts {
  digest: string;
  /** The worst vulnerability ids (KEV, then critical, high, then EPSS), at most 5. */
  top: string[];
}

/** An image reference as images are filed (registry host, repository, tag). */
export interface ImageReferenceKey {
  registry: string;
  repository: string;
  tag: string;
}

export interface ImageVulnerabilityIndex {
  /** Scanned digests among those asked for (and those the references resolved to). */
  byDigest: Map<string, DigestVulnRecord>;
  /** `registry/repository:tag` → the newest scanned digest filed under that tag. */
  byReference: Map<string, string>;
}

export const ATTACK_STEP_KINDS = ['entry', 'workload', 'image', 'privilege', 'target'] as const;
export type AttackStepKind = (typeof ATTACK_STEP_KINDS)[number];
export const ATTACK_TARGET_KINDS = ['cluster', 'node', 'secrets', 'namespace', 'workload'] as const;
export type AttackTargetKind = (typeof ATTACK_TARGET_KINDS)[number];

/** One step of an attack path, and the edge from the previous step into it. */
export interface AttackPathStep {
  kind: AttackStepKind;
  /** Stable id of the node (the same node in two paths has the same id). */
  id: string;
  /** The step as a person reads it (`Ingress shop/web :80`, `privileged container nginx`). */
  label: string;
  /**
   * What the step is: the entry's Service/Ingress/Gateway name (or `hostNetwork`, `hostPort …`),
   * the workload's name, the image reference, the privilege, the target's name.
   */
  name: string;
  /** The namespace the step lives in; null for images, nodes, the cluster and every Secret. */
  namespace: string | null;
  /** The Kubernetes kind of the step's object where it is one (Service, Ingress, Deployment…), else null. */
  objectKind: string | null;
  /** MITRE ATT&CK techniques of the edge into this step (none for the entry). */
  mitre: string[];
  /** How the attacker moves from the previous step; absent on the entry. */
  edge?: { relation: string; mitre: string[] };
  /** Image steps: the vulnerability counts that put the image on the path. */
  vulnerabilities?: ImageVulnCounts;
  /** Image steps: the scanned digest the counts are of. */
  digest?: string;
  /**
   * Image steps: `digest` when the counts are of a digest the cluster runs (a pod's imageID, or a
   * pinned reference); `reference` when that digest was not scanned and the newest scanned image
   * under the same registry, repository and tag stood in.
   */
  vulnerabilitySource?: 'digest' | 'reference';
  /** Image steps: the worst vulnerability ids (KEV first, then critical, high), at most 5. */
  vulnerabilityIds?: string[];
}

export interface ClusterAttackPathInput {
  /** Stable: a hash of the chain of step ids. */
  id: string;
  /** 1 = highest score. */
  rank: number;
  /** 0-100: 100 × exposure × exploitability × impact (docs/posture.md). */
  score: number;
  severity: Severity;
  /** The path in one sentence. */
  explanation: string;
  factors: { exposure: number; exploitability: number; impact: number };
  /** The exposed workload the path goes through. */
  workload: { namespace: string | null; apiVersion: string; kind: string; name: string };
  target: { kind: AttackTargetKind; name: string };
  /** MITRE ATT&CK techniques of the whole path, sorted. */
  mitre: string[];
  steps: AttackPathStep[];
}

export interface ClusterAttackPath extends ClusterAttackPathInput {
  clusterId: string;
  snapshotId: string;
}

export interface AttackPathQuery extends PageQuery {
  severity?: Severity[];
  /** The workload's namespace. */
  namespace?: string;
  target?: AttackTargetKind;
}

export interface ClusterRepository {
  /** E_INPUT when the name is taken or invalid. Returns the ingest token once. */
  create(input: ClusterInput): Promise<CreatedCluster>;
  get(id: string): Promise<Cluster | null>;
  getByName(name: string): Promise<Cluster | null>;
  list(): Promise<Cluster[]>;
  /** Removes the cluster with its snapshots, changes, inventory and findings. */
  delete(id: string): Promise<boolean>;
  /** The decrypted kubeconfig, for the connector only: never send it to a client. Null without one. */
  kubeconfig(id: string): Promise<string | null>;
  /** A new ingest token (plaintext, shown once); the previous one stops working. E_NOT_FOUND without the cluster. */
  rotateIngestToken(id: string): Promise<string>;
  /** The cluster a presented ingest token belongs to; null for any other string. Looked up by hash. */
  verifyIngestToken(plaintext: string): Promise<Cluster | null>;
  /** Record the outcome of a snapshot attempt (whether or not a snapshot was stored). */
  setStatus(id: string, update: ClusterStatusUpdate): Promise<Cluster | null>;
  /**
   * Store a snapshot: always its record; for a complete one also the inventory, changes and
   * findings, all in one transaction, then prune snapshots beyond `keep`.
   */
  recordSnapshot(input: SnapshotRecordInput): Promise<ClusterSnapshot>;
  snapshot(id: string): Promise<ClusterSnapshot | null>;
  latestSnapshot(clusterId: string, options?: { complete?: boolean }): Promise<ClusterSnapshot | null>;
  /** Newest first. */
  listSnapshots(clusterId: string, page?: { limit?: number; offset?: number }): Promise<Page<ClusterSnapshot>>;
  /** The stored inventory's index (every object, no bodies): the base of the next diff. */
  inventoryIndex(clusterId: string): Promise<InventoryIndexEntry[]>;
  /** The latest complete snapshot's objects, by kind, namespace and name. */
  inventory(clusterId: string, query?: InventoryQuery): Promise<Page<InventoryObject>>;
  /** Objects of the stored inventory by Kind. */
  inventoryCounts(clusterId: string): Promise<Record<string, number>>;
  /** Newest snapshot first, then by kind, namespace, name. */
  changes(clusterId: string, query?: ChangeQuery): Promise<Page<ClusterChange>>;
  /** Worst first, then by check, namespace, kind, name. */
  findings(clusterId: string, query?: ClusterFindingQuery): Promise<Page<ClusterFinding>>;
  /** The latest complete snapshot's attack paths, by rank. */
  attackPaths(clusterId: string, query?: AttackPathQuery): Promise<Page<ClusterAttackPath>>;
  /**
   * Vulnerability counts of images from the stored scan results, for attack paths: the scanned
   * digests among `digests`, and the newest scanned digest of each reference. A few batched
   * queries whatever the number of containers (never one per container).
   */
  imageVulnerabilities(input: {
    digests: Iterable<string>;
    references: Iterable<ImageReferenceKey>;
  }): Promise<ImageVulnerabilityIndex>;
}

export const DEFAULT_SNAPSHOT_INTERVAL_SECONDS = 900;
export const DEFAULT_SNAPSHOTS_KEPT = 96;
/** Attack paths kept per cluster (the highest ranked). */
export const DEFAULT_ATTACK_PATHS_KEPT = 100;
