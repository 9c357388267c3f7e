/**
 * The clusters API: register a cluster (its kubeconfig is write-only, its ingest token shown
 * once), read its status, snapshots, inventory, changes, posture findings and attack paths, and
 * ask for a snapshot now. Schemas and routes live here; routes.ts includes them in the one route table, so
 * the OpenAPI document covers them.
 */
import { PalisadeError, SEVERITIES, type Severity } from '@palisade/core';
import { parseKubeconfigText, MAX_KUBECONFIG_BYTES } from '../clusters/kubeconfig.js';
import { requestClusterSnapshot } from '../clusters/schedule.js';
import {
  ATTACK_STEP_KINDS,
  ATTACK_TARGET_KINDS,
  CHANGE_TYPES,
  CLUSTER_ERROR_CODES,
  CLUSTER_STATUSES,
  JOB_STATUSES,
  type AttackTargetKind,
  type ChangeType,
  type Cluster,
  type Job,
} from '../storage/index.js';
import { MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from '../storage/clusters.js';
import type { AppDeps, RouteDef } from './routes.js';
import * as S from './schemas.js';

/** What the server config (`clusters`) sets for these routes. */
export interface ClusterRouteSettings {
  /** Accept kubeconfigs with an exec credential plugin (it runs on the server host). */
  allowExecPlugins: boolean;
  /** Interval of a cluster registered without `intervalSeconds` (default 900). */
  defaultIntervalSeconds?: number;
}

const str: S.JsonSchema = { type: 'string' };
const int: S.JsonSchema = { type: 'integer' };
const bool: S.JsonSchema = { type: 'boolean' };
const nullable = (type: string, extra: Record<string, unknown> = {}): S.JsonSchema => ({
  type: [type, 'null'],
  ...extra,
});
const freeObject = (description: string): S.JsonSchema => ({ type: 'object', additionalProperties: true, description });
const stringMap: S.JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

export const ClusterSchema = S.object({
  id: str,
  name: str,
  context: nullable('string', { description: 'the kubeconfig context used; null without a kubeconfig' }),
  hasKubeconfig: bool,
  intervalSeconds: int,
  ingestTokenPrefix: nullable('string', { description: 'first characters of the current ingest token' }),
  status: {
    type: 'string',
    enum: [...CLUSTER_STATUSES],
    description:
      'agent_only (no kubeconfig), pending (never snapshotted), ok, or why the last snapshot attempt fell short',
  },
  lastAttemptAt: nullable('string'),
  lastSnapshotId: nullable('string'),
  lastSnapshotAt: nullable('string'),
  lastCompleteSnapshotId: nullable('string'),
  lastCompleteSnapshotAt: nullable('string'),
  lastError: nullable('string'),
  lastErrorCode: { type: ['string', 'null'], enum: [...CLUSTER_ERROR_CODES, null] },
  createdAt: str,
  updatedAt: str,
});

const SnapshotSchema = S.object({
  id: str,
  clusterId: str,
  takenAt: str,
  finishedAt: str,
  durationMs: int,
  complete: { type: 'boolean', description: 'false: some lists failed; nothing of it replaced the inventory' },
  errors: { type: 'array', items: S.object({ kind: str, message: str }) },
  notServed: { type: 'array', items: str },
  counts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'objects read, by Kind' },
  objects: int,
  changes: { ...S.object({ added: int, removed: int, modified: int }), type: ['object', 'null'] },
  findings: nullable('integer', { description: 'posture findings; null when incomplete' }),
  attackPaths: nullable('integer', {
    description: 'attack paths stored; null when incomplete or taken before attack paths were kept',
  }),
});

const InventoryObjectSchema = S.object({
  apiVersion: str,
  kind: str,
  namespace: nullable('string'),
  name: str,
  uid: nullable('string'),
  resourceVersion: nullable('string'),
  createdAt: nullable('string'),
  labels: stringMap,
  summary: freeObject(
    'kind-specific facts: for pods and workloads `containers` [{name, type, image, imageDigest, …}]; never a secret value',
  ),
});

const ChangeSchema = S.object({
  clusterId: str,
  snapshotId: str,
  takenAt: str,
  apiVersion: str,
  kind: str,
  namespace: nullable('string'),
  name: str,
  change: { type: 'string', enum: [...CHANGE_TYPES] },
  summary: str,
});

const FindingSchema = S.object({
  clusterId: str,
  snapshotId: str,
  id: str,
  checkId: str,
  checkVersion: int,
  title: str,
  severity: { type: 'string', enum: [...SEVERITIES] },
  apiVersion: nullable('string'),
  kind: str,
  namespace: nullable('string'),
  name: str,
  path: str,
  message: str,
  remediation: str,
  frameworks: { type: 'object', additionalProperties: { type: 'array', items: str } },
  pss: { ...S.object({ level: str, control: str, version: str }), type: ['object', 'null'] },
});

const num: S.JsonSchema = { type: 'number' };
const strings: S.JsonSchema = { type: 'array', items: str };
const VulnCountsSchema = S.object(
  { critical: int, high: int, medium: int, low: int, kev: int, fixable: int, epss: num },
  ['critical', 'high', 'medium', 'low', 'kev', 'fixable'],
);
const AttackStepSchema = S.object(
  {
    kind: { type: 'string', enum: [...ATTACK_STEP_KINDS] },
    id: str,
    label: str,
    name: str,
    namespace: nullable('string'),
    objectKind: nullable('string', { description: 'Service, Ingress, Gateway, Deployment, Node…; null otherwise' }),
    mitre: { ...strings, description: 'MITRE ATT&CK techniques of the edge into this step' },
    edge: S.object({ relation: str, mitre: strings }),
    vulnerabilities: VulnCountsSchema,
    digest: { type: 'string', description: 'image steps: the scanned digest the counts are of' },
    vulnerabilitySource: {
      type: 'string',
      enum: ['digest', 'reference'],
      description:
        'digest: a digest the cluster runs; reference: that digest was not scanned, the newest scan of the same tag stood in',
    },
    vulnerabilityIds: { ...strings, description: 'image steps: the worst vulnerability ids, at most 5' },
  },
  ['kind', 'id', 'label', 'name', 'namespace', 'objectKind', 'mitre'],
);
const AttackPathSchema = S.object({
  clusterId: str,
  snapshotId: str,
  id: str,
  rank: int,
  score: int,
  severity: { type: 'string', enum: [...SEVERITIES] },
  explanation: str,
  factors: S.object({ exposure: num, exploitability: num, impact: num }),
  workload: S.object({ namespace: nullable('string'), apiVersion: str, kind: str, name: str }),
  target: S.object({ kind: { type: 'string', enum: [...ATTACK_TARGET_KINDS] }, name: str }),
  mitre: strings,
  steps: { type: 'array', items: AttackStepSchema },
});

const JobSchema = S.object({
  id: str,
  status: { type: 'string', enum: [...JOB_STATUSES] },
  attempts: int,
  runAt: str,
  lastError: nullable('string'),
  createdAt: str,
  startedAt: nullable('string'),
  finishedAt: nullable('string'),
});

const clusterName = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' };

const ClusterCreateBody = S.object(
  {
    name: clusterName,
    kubeconfig: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_KUBECONFIG_BYTES,
      writeOnly: true,
      description:
        'kubeconfig text (YAML or JSON), self-contained (`*-data` fields, no file paths); exec plugins only when the server allows them (clusters.allowExecPlugins: they run on the server). Optional: without it the cluster only sends runtime and audit data',
    },
    context: { type: 'string', minLength: 1, maxLength: 253, description: 'default: the current-context' },
    intervalSeconds: {
      type: 'integer',
      minimum: MIN_INTERVAL_SECONDS,
      maximum: MAX_INTERVAL_SECONDS,
      description: 'seconds between snapshots (default: the server setting clusters.defaultInterval, 900)',
    },
  },
  ['name'],
);

const ClusterCreated = S.object({
  cluster: ClusterSchema,
  ingestToken: {
    type: 'string',
    description: "shown once: the cluster's sensors and audit forwarder send it (ingest scope only)",
  },
});

const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  cursor: { type: 'string', maxLength: 1024, description: 'nextCursor of the previous page (same filters)' },
};
const kindQ = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9]+$',
  description: 'Kind, e.g. Pod',
};
const namespaceQ = { type: 'string', minLength: 1, maxLength: 253 };

const InventoryQuery = S.object(
  { kind: kindQ, namespace: namespaceQ, name: { type: 'string', minLength: 1, maxLength: 253 }, ...paging },
  [],
);
const ChangesQuery = S.object(
  {
    snapshot: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9-]+$', description: 'one snapshot’s changes' },
    since: { type: 'string', format: 'date-time', description: 'changes of snapshots taken at or after this time' },
    kind: kindQ,
    namespace: namespaceQ,
    change: { type: 'string', enum: [...CHANGE_TYPES] },
    ...paging,
  },
  [],
);
const severityQ = {
  type: 'string',
  pattern: `^(${SEVERITIES.join('|')})(,(${SEVERITIES.join('|')}))*$`,
  description: 'comma-separated severities',
};
const FindingsQuery = S.object(
  {
    severity: severityQ,
    check: { type: 'string', minLength: 1, maxLength: 128 },
    namespace: namespaceQ,
    kind: kindQ,
    ...paging,
  },
  [],
);
const AttackPathsQuery = S.object(
  {
    severity: severityQ,
    namespace: { ...namespaceQ, description: "the exposed workload's namespace" },
    target: { type: 'string', enum: [...ATTACK_TARGET_KINDS] },
    ...paging,
  },
  [],
);
const SnapshotsQuery = S.object({ limit: paging.limit, offset: paging.offset }, []);

const pageOf = (item: S.JsonSchema): S.JsonSchema => S.Page(item);

interface CreateBodyT {
  name: string;
  kubeconfig?: string;
  context?: string;
  intervalSeconds?: number;
}
interface PageT {
  limit?: number;
  offset?: number;
  cursor?: string;
}

/** Copy only the defined fields (the storage queries treat a present `undefined` like a value). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function showJob(j: Job): Record<string, unknown> {
  return {
    id: j.id,
    status: j.status,
    attempts: j.attempts,
    runAt: j.runAt,
    lastError: j.lastError,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
  };
}

export function buildClusterRoutes(deps: AppDeps): RouteDef[] {
  const { storage } = deps;
  const mustGet = async (id: string): Promise<Cluster> => {
    const c = await storage.clusters.get(id);
    if (!c) throw new PalisadeError('E_NOT_FOUND', 'no such cluster', { subject: id });
    return c;
  };
  const idOf = (req: { params: unknown }): string => (req.params as { id: string }).id;
  const tag = 'clusters';
  return [
    {
      method: 'POST',
      url: '/api/v1/clusters',
      role: 'admin',
      operationId: 'createCluster',
      summary: 'Register a cluster; the kubeconfig is write-only and encrypted at rest, the ingest token is shown once',
      tag,
      schema: { body: ClusterCreateBody, response: { 201: ClusterCreated } },
      handler: async (req, reply) => {
        const b = req.body as CreateBodyT;
        if (b.context !== undefined && b.kubeconfig === undefined)
          throw new PalisadeError('E_INPUT', 'a context needs a kubeconfig', { subject: 'body.context' });
        // Parsed now, so a kubeconfig that cannot work is a 400 naming the field, not a failed snapshot later.
        // An exec plugin is refused unless the server allows them: it would run on this host.
        const parsed =
          b.kubeconfig === undefined
            ? null
            : parseKubeconfigText(b.kubeconfig, b.context, 'body.kubeconfig', {
                allowExec: deps.clusters?.allowExecPlugins === true,
              });
        const created = await storage.clusters.create(
          defined({
            name: b.name,
            kubeconfig: b.kubeconfig,
            context: parsed?.context,
            intervalSeconds: b.intervalSeconds ?? deps.clusters?.defaultIntervalSeconds,
          }),
        );
        req.log.info({ cluster: created.cluster.id, name: created.cluster.name }, 'cluster registered');
        void reply.code(201).header('location', `/api/v1/clusters/${created.cluster.id}`);
        return created;
      },
    },
    {
      method: 'GET',
      url: '/api/v1/clusters',
      role: 'reader',
      operationId: 'listClusters',
      summary: 'Registered clusters with their snapshot status (never their kubeconfig)',
      tag,
      schema: { response: { 200: S.object({ items: { type: 'array', items: ClusterSchema } }) } },
      handler: async () => ({ items: await storage.clusters.list() }),
    },
    {
      method: 'GET',
      url: '/api/v1/clusters/:id',
      role: 'reader',
      operationId: 'getCluster',
      summary: 'One cluster: status, last snapshot, last error (never its kubeconfig)',
      tag,
      schema: { params: S.IdParams, response: { 200: ClusterSchema } },
      handler: async (req) => mustGet(idOf(req)),
    },
    {
      method: 'DELETE',
      url: '/api/v1/clusters/:id',
      role: 'admin',
      operationId: 'deleteCluster',
      summary: 'Remove a cluster with its kubeconfig, ingest token, snapshots, inventory and findings',
      tag,
      schema: { params: S.IdParams, response: { 204: null } },
      handler: async (req, reply) => {
        const id = idOf(req);
        if (!(await storage.clusters.delete(id)))
          throw new PalisadeError('E_NOT_FOUND', 'no such cluster', { subject: id });
        await storage.alerts.deleteCluster(id); // its runtime alerts, groups, counters, kube events, batch ids
        req.log.info({ cluster: id }, 'cluster deleted');
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/api/v1/clusters/:id/ingest-token',
      role: 'admin',
      operationId: 'rotateIngestToken',
      summary: 'A new ingest token for the cluster (shown once); the previous one stops working',
      tag,
      schema: { params: S.IdParams, response: { 200: ClusterCreated } },
      handler: async (req) => {
        const id = idOf(req);
        const rotated = await storage.withTransaction(async (tx) => {
          if (!(await tx.clusters.get(id))) return null;
          const ingestToken = await tx.clusters.rotateIngestToken(id);
          const cluster = await tx.clusters.get(id);
          return cluster ? { cluster, ingestToken } : null;
        });
        if (!rotated) throw new PalisadeError('E_NOT_FOUND', 'no such cluster', { subject: id });
        req.log.info({ cluster: id }, 'ingest token rotated');
        return rotated;
      },
    },
    {
      method: 'POST',
      url: '/api/v1/clusters/:id/snapshots',
      role: 'operator',
      operationId: 'requestClusterSnapshot',
      summary:
        'Snapshot the cluster now: queues a snapshot job for the scheduler (a queued or running one is returned instead)',
      tag,
      schema: {
        params: S.IdParams,
        response: {
          202: S.object({ job: JobSchema, deduplicated: bool }),
          200: S.object({ job: JobSchema, deduplicated: bool }),
        },
      },
      handler: async (req, reply) => {
        const c = await mustGet(idOf(req));
        if (!c.hasKubeconfig)
          throw new PalisadeError('E_INPUT', 'the cluster has no kubeconfig: it is not snapshotted (agent-only)', {
            subject: c.id,
          });
        const r = await requestClusterSnapshot(storage, c.id, deps.clock.now());
        void reply.code(r.created ? 202 : 200);
        return { job: showJob(r.job), deduplicated: !r.created };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/clusters/:id/snapshots',
      role: 'reader',
      operationId: 'listClusterSnapshots',
      summary: 'Snapshots of the cluster, newest first (complete or not, with counts by kind and errors)',
      tag,
      schema: { params: S.IdParams, querystring: SnapshotsQuery, response: { 200: pageOf(SnapshotSchema) } },
      handler: async (req) => {
        const c = await mustGet(idOf(req));
        return storage.clusters.listSnapshots(c.id, defined(req.query as PageT));
      },
    },
    {
      method: 'GET',
      url: '/api/v1/clusters/:id/inventory',
      role: 'reader',
      operationId: 'getClusterInventory',
      summary:
        'The latest complete snapshot: counts by kind and its objects by kind, namespace and name (pods with images and image digests)',
      tag,
      schema: {
        params: S.IdParams,
        querystring: InventoryQuery,
        response: {
          200: S.object({
            cluster: S.object({
              id: str,
              name: str,
              status: { type: 'string', enum: [...CLUSTER_STATUSES] },
              lastError: nullable('string'),
            }),
            snapshot: { ...SnapshotSchema, type: ['object', 'null'] },
            counts: { type: 'object', additionalProperties: { type: 'integer' } },
            objects: pageOf(InventoryObjectSchema),
          }),
        },
      },
      handler: async (req) => {
        const c = await mustGet(idOf(req));
        const q = req.query as PageT & { kind?: string; namespace?: string; name?: string };
        const snapshot =
          c.lastCompleteSnapshotId === null ? null : await storage.clusters.snapshot(c.lastCompleteSnapshotId);
        return {
          cluster: { id: c.id, name: c.name, status: c.status, lastError: c.lastError },
          snapshot,
          counts: await storage.clusters.inventoryCounts(c.id),
          objects: await storage.clusters.inventory(c.id, defined(q)),
        };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/clusters/:id/changes',
      role: 'reader',
      operationId: 'listClusterChanges',
      summary: 'Objects added, removed or modified between complete snapshots, newest first',
      tag,
      schema: { params: S.IdParams, querystring: ChangesQuery, response: { 200: pageOf(ChangeSchema) } },
      handler: async (req) => {
        const c = await mustGet(idOf(req));
        const q = req.query as PageT & {
          snapshot?: string;
          since?: string;
          kind?: string;
          namespace?: string;
          change?: ChangeType;
        };
        return storage.clusters.changes(
          c.id,
          defined({
            snapshotId: q.snapshot,
            since: q.since,
            kind: q.kind,
            namespace: q.namespace,
            change: q.change,
            limit: q.limit,
            offset: q.offset,
            cursor: q.cursor,
          }),
        );
      },
    },
    {
      method: 'GET',
      url: '/api/v1/clusters/:id/findings',
      role: 'reader',
      operationId: 'listClusterFindings',
      summary: 'Posture findings of the latest complete snapshot, worst first',
      tag,
      schema: { params: S.IdParams, querystring: FindingsQuery, response: { 200: pageOf(FindingSchema) } },
      handler: async (req) => {
        const c = await mustGet(idOf(req));
        const q = req.query as PageT & { severity?: string; check?: string; namespace?: string; kind?: string };
        return storage.clusters.findings(
          c.id,
          defined({
            severity: q.severity === undefined ? undefined : (q.severity.split(',') as Severity[]),
            checkId: q.check,
            namespace: q.namespace,
            kind: q.kind,
            limit: q.limit,
            offset: q.offset,
            cursor: q.cursor,
          }),
        );
      },
    },
    {
      method: 'GET',
      url: '/api/v1/clusters/:id/attack-paths',
      role: 'reader',
      operationId: 'listClusterAttackPaths',
      summary:
        'Attack paths of the latest complete snapshot by rank: exposure → workload → vulnerable image → privilege → target, each explained in one sentence',
      tag,
      schema: { params: S.IdParams, querystring: AttackPathsQuery, response: { 200: pageOf(AttackPathSchema) } },
      handler: async (req) => {
        const c = await mustGet(idOf(req));
        const q = req.query as PageT & { severity?: string; namespace?: string; target?: AttackTargetKind };
        return storage.clusters.attackPaths(
          c.id,
          defined({
            severity: q.severity === undefined ? undefined : (q.severity.split(',') as Severity[]),
            namespace: q.namespace,
            target: q.target,
            limit: q.limit,
            offset: q.offset,
            cursor: q.cursor,
          }),
        );
      },
    },
  ];
}
