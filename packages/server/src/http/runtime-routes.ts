/**
 * Runtime threat detection over HTTP: the ingest route the clusters' publishers send batches to
 * (authenticated by the cluster's ingest token, not an API token), and the read side for people
 * and the console: alerts, alert groups, sensor health and Kubernetes events.
 */
import { INGEST_LIMITS, PalisadeError, SEVERITIES, type Severity } from '@palisade/core';
import type { AlertGroupQuery, AlertListQuery } from '../storage/index.js';
import { buildProcessTree } from '../runtime/process-tree.js';
import { boundedBodyDecoder, SUPPORTED_ENCODINGS } from '../runtime/body.js';
import type { RuntimePipeline } from '../runtime/pipeline.js';
import { INGEST_BATCH_SCHEMA, INGEST_ITEM_ARRAYS, validateIngestBatch } from '../runtime/validate.js';
import type { AppDeps, RouteDef } from './routes.js';
import * as S from './schemas.js';

export interface RuntimeRouteDeps extends AppDeps {
  /** Absent: the ingest route answers 503 (reads still work). */
  runtime?: RuntimePipeline;
}

const str: S.JsonSchema = { type: 'string' };
const int: S.JsonSchema = { type: 'integer' };
const nullable = (type: string): S.JsonSchema => ({ type: [type, 'null'] });
const severity: S.JsonSchema = { type: 'string', enum: [...SEVERITIES] };

export const AlertRecordSchema = S.object({
  id: { type: 'string', description: 'the server’s id (unique across clusters)' },
  alertId: { type: 'string', description: 'the sender’s alert id, stableId(rule, event)' },
  clusterId: str,
  ruleId: str,
  severity,
  title: str,
  output: str,
  time: { type: 'string', description: 'time of the (last) triggering event' },
  receivedAt: str,
  origin: { type: 'string', enum: ['sensor', 'server'], description: 'raised on the node or by the server' },
  node: str,
  namespace: nullable('string'),
  pod: nullable('string'),
  workloadKind: nullable('string'),
  workloadName: nullable('string'),
  containerId: nullable('string'),
  containerName: nullable('string'),
  image: nullable('string'),
  imageDigest: nullable('string'),
  process: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { pid: int, exe: str, argv: { type: 'array', items: str } },
    required: ['pid', 'exe', 'argv'],
  },
  peer: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      address: str,
      port: int,
      protocol: str,
      direction: { type: 'string', enum: ['outbound', 'inbound', 'listen'] },
    },
    required: ['address', 'port', 'protocol', 'direction'],
  },
  groupId: str,
  fields: { type: 'object', additionalProperties: str },
  mitre: { type: 'array', items: S.object({ tactic: str, tacticId: str, technique: str }) },
  tags: { type: 'array', items: str },
  blocked: { type: 'boolean', description: 'the sensor prevented the action (drift enforcement)' },
});

const ProcessNodeSchema: S.JsonSchema = {
  type: 'object',
  description: 'a process: its children are process nodes of the same shape',
  properties: {
    pid: int,
    exe: str,
    argv: { type: 'array', items: str },
    alerting: { type: 'boolean', description: 'this process did what the alert is about' },
    children: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
  required: ['pid', 'exe', 'argv', 'alerting', 'children'],
  additionalProperties: false,
};

export const AlertDetailSchema = S.object({
  alert: AlertRecordSchema,
  events: {
    type: 'array',
    description: 'the raw events that matched (RuntimeEvent, packages/core/src/events.ts)',
    items: { type: 'object', additionalProperties: true },
  },
  processTree: { type: 'array', description: 'roots, oldest ancestor first', items: ProcessNodeSchema },
});

export const AlertGroupSchema = S.object({
  id: str,
  clusterId: str,
  ruleId: str,
  title: str,
  workloadKey: { type: 'string', description: 'k8s:<namespace>/<kind>/<name>, or host:<node>/<image>' },
  namespace: nullable('string'),
  workloadKind: nullable('string'),
  workloadName: nullable('string'),
  image: nullable('string'),
  node: str,
  windowStart: str,
  windowEnd: str,
  firstTime: str,
  lastTime: str,
  count: int,
  severity,
  latestAlertId: str,
});

export const SensorCountersSchema = S.object({
  clusterId: str,
  node: str,
  seen: { type: 'object', additionalProperties: int, description: 'events the kernel produced, by type' },
  kernelDrops: int,
  userDrops: int,
  spoolDrops: int,
  batches: int,
  sensorVersion: str,
  lastReportAt: str,
});

export const KubeEventSchema = S.object({
  clusterId: str,
  uid: str,
  time: str,
  type: str,
  reason: str,
  message: str,
  namespace: str,
  involved: S.object({ kind: str, name: str, namespace: str }),
  count: int,
  receivedAt: str,
});

export const KubeContainerSchema = S.object(
  {
    clusterId: str,
    containerId: { type: 'string', description: 'the runtime’s id without its scheme (as the node sensor reports it)' },
    containerName: str,
    pod: str,
    namespace: str,
    node: str,
    workloadKind: {
      type: 'string',
      description: 'Deployment, StatefulSet, DaemonSet, CronJob, Job, …; empty for a bare pod',
    },
    workloadName: str,
    serviceAccount: str,
    image: str,
    imageDigest: str,
    podUid: str,
    startedAt: str,
    deleted: { type: 'boolean', enum: [true] },
    firstSeen: str,
    lastSeen: str,
    deletedAt: nullable('string'),
  },
  [
    'clusterId',
    'containerId',
    'containerName',
    'pod',
    'namespace',
    'node',
    'workloadKind',
    'workloadName',
    'serviceAccount',
    'image',
    'imageDigest',
    'podUid',
    'firstSeen',
    'lastSeen',
    'deletedAt',
  ],
);

export const IngestAcceptedSchema = S.object({
  batchId: str,
  accepted: { type: 'boolean', description: 'false when this batchId had been accepted before' },
  queued: { type: 'boolean', description: 'true: on the JetStream queue (202); false: stored (200)' },
  alerts: { type: ['integer', 'null'], description: 'new alerts stored (null while queued)' },
  events: int,
  duplicates: { type: ['integer', 'null'], description: 'alerts already stored (null while queued)' },
});

const severityList = {
  type: 'string',
  pattern: `^(${SEVERITIES.join('|')})(,(${SEVERITIES.join('|')}))*$`,
  description: 'comma-separated severities (exact)',
};
const minSeverity = { type: 'string', enum: [...SEVERITIES], description: 'this severity or worse' };
const name = (max = 253): S.JsonSchema => ({ type: 'string', minLength: 1, maxLength: max });
const dateTime = (description: string): S.JsonSchema => ({ type: 'string', format: 'date-time', description });
const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  cursor: { type: 'string', maxLength: 512, description: 'nextCursor of the previous page (same filters)' },
};

export const AlertListQuerySchema = S.object(
  {
    severity: severityList,
    minSeverity,
    ruleId: name(256),
    clusterId: name(64),
    namespace: name(),
    node: name(),
    groupId: name(64),
    from: dateTime('alerts at or after this time'),
    to: dateTime('alerts before this time'),
    ...paging,
  },
  [],
);

export const AlertGroupQuerySchema = S.object(
  {
    severity: severityList,
    minSeverity,
    ruleId: name(256),
    clusterId: name(64),
    namespace: name(),
    from: dateTime('groups whose last alert is at or after this time'),
    to: dateTime('groups whose first alert is before this time'),
    ...paging,
  },
  [],
);

type ListQueryT = Omit<AlertListQuery, 'severity'> & { severity?: string };
type GroupQueryT = Omit<AlertGroupQuery, 'severity'> & { severity?: string };

function severities(s: string | undefined): Severity[] | undefined {
  return s === undefined ? undefined : (s.split(',') as Severity[]);
}

/** Alerts + events + kube events + containers of a body not yet validated (0 for what is not an array). */
function countItems(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const b = body as Record<string, unknown>;
  let n = 0;
  for (const k of INGEST_ITEM_ARRAYS) {
    const v = b[k];
    if (Array.isArray(v)) n += v.length;
  }
  return n;
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Before the body is read: the cluster's rate limit (429 with Retry-After, nothing decoded), then
 * the Content-Encoding (415 for one the route does not decode), then the bounded decoder.
 */
function ingestPreParsing(deps: RuntimeRouteDeps): NonNullable<RouteDef['preParsing']> {
  const decode = boundedBodyDecoder(INGEST_LIMITS.maxBytes, 'INGEST_LIMITS.maxBytes', (req, bytes) => {
    // Charged whether the body turns out valid or not: decoding and checking it is work too.
    if (req.ingestCluster) deps.runtime?.charge(req.ingestCluster.clusterId, 0, bytes);
  });
  return (req, reply, payload) => {
    const cluster = req.ingestCluster;
    const admission = cluster && deps.runtime ? deps.runtime.admit(cluster.clusterId) : { admitted: true as const };
    if (!admission.admitted) {
      void reply
        .code(429)
        .header('retry-after', String(admission.retryAfterSeconds))
        .send({
          error: {
            code: 'E_TOO_LARGE',
            message: `cluster ${cluster?.clusterName ?? ''}: over its ingest rate limit; retry in ${admission.retryAfterSeconds} s`,
          },
        });
      return Promise.resolve(payload);
    }
    return decode(req, reply, payload);
  };
}

export function buildRuntimeRoutes(deps: RuntimeRouteDeps): RouteDef[] {
  const { storage } = deps;
  return [
    {
      method: 'POST',
      url: '/api/v1/ingest/runtime',
      role: null,
      auth: 'ingest',
      operationId: 'ingestRuntime',
      summary:
        'A batch of runtime alerts, events, Kubernetes events and sensor counters from a cluster (its ingest token); 200 when stored, 202 when queued on JetStream',
      tag: 'runtime',
      bodyLimit: INGEST_LIMITS.maxBytes,
      preParsing: ingestPreParsing(deps),
      rawBody: { contentTypes: ['application/json'], schema: INGEST_BATCH_SCHEMA },
      schema: {
        response: {
          200: IngestAcceptedSchema,
          202: IngestAcceptedSchema,
          415: { ...S.ErrorBody, description: `Content-Encoding other than ${SUPPORTED_ENCODINGS.join(' or ')}` },
          429: {
            ...S.ErrorBody,
            description: 'the cluster is over its ingest rate limit: retry after Retry-After seconds',
          },
          503: S.ErrorBody,
        },
      },
      handler: async (req, reply) => {
        const cluster = req.ingestCluster;
        if (!cluster) throw new PalisadeError('E_AUTH', 'no cluster ingest token', { subject: 'authorization' });
        const runtime = deps.runtime;
        runtime?.charge(cluster.clusterId, countItems(req.body), 0);
        const batch = validateIngestBatch(req.body);
        if (!runtime) {
          return reply
            .code(503)
            .send({ error: { code: 'E_UNSUPPORTED', message: 'runtime ingest is not enabled on this server' } });
        }
        let outcome;
        try {
          outcome = await runtime.submit(cluster, batch);
        } catch (err) {
          // Deterministic refusals (the batch, or a value the database refuses) are PalisadeErrors: 4xx.
          if (err instanceof PalisadeError) throw err;
          // Transient (the queue did not confirm, the database connection failed): the publisher keeps it and retries.
          req.log.warn({ batchId: batch.batchId, err: String(err) }, 'runtime batch not stored or queued');
          return reply.code(503).send({
            error: {
              code: 'E_NETWORK',
              message: `the runtime ${runtime.mode === 'nats' ? 'queue' : 'store'} did not confirm the batch; retry later`,
            },
          });
        }
        void reply.code(outcome.queued ? 202 : 200);
        return outcome;
      },
    },
    {
      method: 'GET',
      url: '/api/v1/alerts',
      role: 'reader',
      operationId: 'listAlerts',
      summary: 'Runtime alerts, newest first, by severity, rule, cluster, namespace, node, group and time',
      tag: 'runtime',
      schema: { querystring: AlertListQuerySchema, response: { 200: S.Page(AlertRecordSchema) } },
      handler: async (req) => {
        const q = req.query as ListQueryT;
        return storage.alerts.list(defined({ ...q, severity: severities(q.severity) }));
      },
    },
    {
      method: 'GET',
      url: '/api/v1/alerts/:id',
      role: 'reader',
      operationId: 'getAlert',
      summary: 'One alert with the events that matched and its process tree',
      tag: 'runtime',
      schema: { params: S.IdParams, response: { 200: AlertDetailSchema } },
      handler: async (req) => {
        const { id } = req.params as { id: string };
        const found = await storage.alerts.get(id);
        if (!found) throw new PalisadeError('E_NOT_FOUND', 'no such alert', { subject: id });
        const { events, ...alert } = found;
        return { alert, events, processTree: buildProcessTree(events) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/alert-groups',
      role: 'reader',
      operationId: 'listAlertGroups',
      summary: 'Alerts of one rule on one workload within one time window, with their count; newest first',
      tag: 'runtime',
      schema: { querystring: AlertGroupQuerySchema, response: { 200: S.Page(AlertGroupSchema) } },
      handler: async (req) => {
        const q = req.query as GroupQueryT;
        return storage.alerts.groups(defined({ ...q, severity: severities(q.severity) }));
      },
    },
    {
      method: 'GET',
      url: '/api/v1/runtime/sensors',
      role: 'reader',
      operationId: 'listSensors',
      summary: 'What each node’s sensor reported: events seen by type, kernel/user/spool drops, last report',
      tag: 'runtime',
      schema: {
        querystring: S.object({ clusterId: name(64) }, []),
        response: { 200: S.object({ items: { type: 'array', items: SensorCountersSchema } }) },
      },
      handler: async (req) => {
        const { clusterId } = req.query as { clusterId?: string };
        return { items: await storage.alerts.counters(clusterId) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/runtime/kube-events',
      role: 'reader',
      operationId: 'listKubeEvents',
      summary: 'The newest Kubernetes events a cluster’s inventory collector forwarded',
      tag: 'runtime',
      schema: {
        querystring: S.object({ clusterId: name(64), limit: paging.limit }, ['clusterId']),
        response: { 200: S.object({ items: { type: 'array', items: KubeEventSchema } }) },
      },
      handler: async (req) => {
        const { clusterId, limit } = req.query as { clusterId: string; limit?: number };
        return { items: await storage.alerts.kubeEvents(clusterId, limit) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/runtime/containers',
      role: 'reader',
      operationId: 'listRuntimeContainers',
      summary:
        'The containers a cluster’s inventory collector reported (pod, workload, image digest by container id), most recently reported first',
      tag: 'runtime',
      schema: {
        querystring: S.object(
          {
            clusterId: name(64),
            namespace: name(),
            containerId: name(256),
            includeDeleted: { type: 'boolean', default: false },
            limit: paging.limit,
          },
          ['clusterId'],
        ),
        response: { 200: S.object({ items: { type: 'array', items: KubeContainerSchema } }) },
      },
      handler: async (req) => {
        const q = req.query as {
          clusterId: string;
          namespace?: string;
          containerId?: string;
          includeDeleted?: boolean;
          limit?: number;
        };
        return { items: await storage.alerts.containers(defined(q)) };
      },
    },
  ];
}
