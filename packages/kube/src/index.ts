/**
 * @palisade/kube: live cluster access — kubeconfig and in-cluster configuration, a small
 * read-only Kubernetes API client with paged lists, cluster snapshots and their diffs, and
 * the read-only RBAC Palisade needs.
 */
export {
  SERVICE_ACCOUNT_DIR,
  inClusterConfig,
  isInCluster,
  kubeconfigFiles,
  loadKubeconfig,
  type ClusterAuth,
  type ClusterConfig,
  type ExecConfig,
  type InClusterOptions,
  type LoadKubeconfigOptions,
} from './kubeconfig.js';
export { parseExecCredential, runExecPlugin, type ExecCredentialResult } from './exec.js';
export { KubeClient, type KubeClientOptions, type KubeObject, type ListOptions, type ListResult } from './client.js';
export {
  SNAPSHOT_KINDS,
  diffSnapshots,
  objectRef,
  takeSnapshot,
  type KindSpec,
  type ObjectRef,
  type Snapshot,
  type SnapshotDiff,
  type SnapshotError,
  type SnapshotOptions,
} from './snapshot.js';
export { readOnlyRbacManifests, readOnlyRbacObjects, type RbacOptions } from './rbac.js';
export {
  applyObject,
  bindPalisade,
  objectPath,
  type AppliedObject,
  type ApplyOptions,
  type BindOptions,
  type BindResult,
} from './apply.js';
export { GoneError } from './gone.js';
export {
  InformerCache,
  WATCH_KINDS,
  collectionPath,
  listAndWatch,
  objectKey,
  watch,
  watchKind,
  type InformerEvent,
  type ListAndWatchOptions,
  type WatchEvent,
  type WatchEventType,
  type WatchOptions,
} from './watch.js';
