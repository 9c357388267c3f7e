/**
 * Every route of the HTTP API in one table: method, path, the least role allowed, schemas and
 * handler. The app registers routes from it and the OpenAPI document is generated from it, so
 * the document cannot drift from what is served and validated.
 */
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { PalisadeError, type Clock, type Severity } from '@palisade/core';
import type {
  ImageListQuery as StorageImageQuery,
  ImageSort,
  Registry as StoredRegistry,
  Role,
  ScanStatus,
  SortOrder,
  Storage,
  VulnerabilityListQuery as StorageVulnQuery,
  VulnerabilitySort,
} from '../storage/index.js';
import { parseRegistryEvents, DISTRIBUTION_EVENTS_MEDIA_TYPE } from '../registry/index.js';
import { registryHost, type EventImage, type ScanQueue } from '../worker/queue.js';
import type { VulnDbState } from '../worker/vulndb.js';
import { imageIdentity } from '../worker/worker.js';
import type { Metrics } from './metrics.js';
import type { WebhookRegistryCache } from './webhook-cache.js';
import * as S from './schemas.js';
import { buildClusterRoutes, type ClusterRouteSettings } from './cluster-routes.js';
import { buildRuntimeRoutes } from './runtime-routes.js';
import type { RuntimePipeline } from '../runtime/pipeline.js';

export interface AppDeps {
  storage: Storage;
  clock: Clock;
  scanQueue: ScanQueue;
  vulnDbStatus: () => VulnDbState;
  metrics: Metrics;
  /** The webhook route's registry cache: registry changes made here invalidate their entry. */
  webhookRegistries?: WebhookRegistryCache;
  /** Runtime ingest (detection + storage, or the JetStream queue); absent: the ingest route answers 503. */
  runtime?: RuntimePipeline;
  /** The clusters routes' settings (server config `clusters`); absent: exec plugins refused, defaults. */
  clusters?: ClusterRouteSettings;
}

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface RouteSchema {
  params?: S.JsonSchema;
  querystring?: S.JsonSchema;
  body?: S.JsonSchema;
  response: Record<number, S.JsonSchema | null>;
}

export interface RouteDef {
  method: HttpMethod;
  /** Fastify syntax (`:id`); the OpenAPI document writes `{id}`. */
  url: string;
  /** Least role allowed; null for the unauthenticated operational endpoints. */
  role: Role | null;
  operationId: string;
  summary: string;
  tag: string;
  schema: RouteSchema;
  /** Non-JSON response (metrics); the OpenAPI document names the content type. */
  produces?: string;
  /**
   * `webhook`: authenticated by the registry's webhook token (the `:id` registry's), not by an
   * API token; the API-token hook skips these routes. `ingest`: authenticated by a cluster's
   * ingest token (runtime telemetry), likewise not an API token.
   */
  auth?: 'webhook' | 'ingest';
  /** This route's body limit (bytes), instead of the server's. */
  bodyLimit?: number;
  /** Fastify preParsing hook (a route that decodes Content-Encoding itself). */
  preParsing?: (req: FastifyRequest, reply: FastifyReply, payload: RequestPayload) => Promise<RequestPayload>;
  /** A body the route parses itself (no Ajv validation): documented with these content types. */
  rawBody?: { contentTypes: readonly string[]; schema: S.JsonSchema };
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

// Request shapes as the schemas above guarantee them (Ajv has checked them before a handler runs).
interface ImageQueryT {
  registry?: string;
  repository?: string;
  q?: string;
  severity?: string;
  fixable?: boolean;
  sort?: ImageSort;
  order?: SortOrder;
  limit?: number;
  offset?: number;
  cursor?: string;
}
interface VulnQueryT {
  id?: string;
  severity?: string;
  fixable?: boolean;
  kev?: boolean;
  sort?: VulnerabilitySort;
  order?: SortOrder;
  limit?: number;
  offset?: number;
  cursor?: string;
}
interface ScanQueryT {
  status?: ScanStatus;
  digest?: string;
  limit?: number;
  offset?: number;
}
interface RegistryBodyT {
  name: string;
  url: string;
  insecure?: boolean;
  credentials?: { username: string; password: string };
}
interface RegistryFlagsT {
  readOnly?: boolean;
  publishResults?: boolean;
}
interface TokenBodyT {
  name: string;
  role: Role;
  expiresAt?: string;
}

const severities = (s: string | undefined): Severity[] | undefined =>
  s === undefined ? undefined : (s.split(',') as Severity[]);

/** Copy only the defined fields: the storage queries treat a present `undefined` like a value. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function webhookPath(registryId: string): string {
  return `/api/v1/registries/${encodeURIComponent(registryId)}/events`;
}

function showRegistry(r: StoredRegistry): Record<string, unknown> {
  // Credentials are not part of a stored Registry at all; the response schema drops anything else.
  return { ...r, webhookUrl: webhookPath(r.id) };
}

const E = S.ErrorBody;

/** The longest span GET /api/v1/trends answers for. */
const MAX_TREND_DAYS = 400;

export function buildRoutes(deps: AppDeps): RouteDef[] {
  const { storage } = deps;
  return [
    {
      method: 'GET',
      url: '/healthz',
      role: null,
      operationId: 'healthz',
      summary: 'Liveness: the process answers',
      tag: 'operations',
      schema: { response: { 200: S.Health } },
      handler: () => Promise.resolve({ status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/readyz',
      role: null,
      operationId: 'readyz',
      summary: 'Readiness: storage reachable and a vulnerability database loaded',
      tag: 'operations',
      schema: { response: { 200: S.Ready, 503: S.Ready } },
      handler: async (_req, reply) => {
        let storageError: string | null = null;
        try {
          await storage.migrationStatus();
        } catch (err) {
          storageError = err instanceof PalisadeError ? err.code : 'storage unreachable';
        }
        const db = deps.vulnDbStatus();
        const ok = storageError === null && db.loaded;
        void reply.code(ok ? 200 : 503);
        return {
          status: ok ? 'ready' : 'not ready',
          checks: {
            storage: { ok: storageError === null, error: storageError },
            vulnDb: { ok: db.loaded, builtAt: db.builtAt, error: db.error },
          },
        };
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      role: null,
      operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format)',
      tag: 'operations',
      produces: 'text/plain; version=0.0.4; charset=utf-8',
      schema: { response: { 200: null } },
      handler: async (_req, reply) => {
        let jobs: Record<string, number> = {};
        try {
          jobs = await storage.jobs.counts();
        } catch {
          jobs = {};
        }
        void reply.type('text/plain; version=0.0.4; charset=utf-8');
        return deps.metrics.render(jobs);
      },
    },
    // ---------- results (every role) ----------
    {
      method: 'GET',
      url: '/api/v1/images',
      role: 'reader',
      operationId: 'listImages',
      summary: 'Images with their last scan and counts by severity',
      tag: 'images',
      schema: { querystring: S.ImageListQuery, response: { 200: S.Page(S.ImageSummary) } },
      handler: async (req) => {
        const q = req.query as ImageQueryT;
        const query: StorageImageQuery = defined({
          registry: q.registry,
          repository: q.repository,
          text: q.q,
          severity: severities(q.severity),
          fixable: q.fixable,
          sort: q.sort,
          order: q.order,
          limit: q.limit,
          offset: q.offset,
          cursor: q.cursor,
        });
        return storage.images.list(query);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/images/:digest',
      role: 'reader',
      operationId: 'getImage',
      summary: 'One image by digest: its packages and vulnerabilities (worst first)',
      tag: 'images',
      schema: { params: S.DigestParams, response: { 200: S.ImageDetail } },
      handler: async (req) => {
        const { digest } = req.params as { digest: string };
        // The same digest can live in several repositories; show the one scanned last first.
        const all = await storage.images.byDigest(digest, 500);
        const first = all[0];
        if (!first) throw new PalisadeError('E_NOT_FOUND', 'no image with this digest', { subject: digest });
        const detail = await storage.images.detail(first.id);
        if (!detail) throw new PalisadeError('E_NOT_FOUND', 'no image with this digest', { subject: digest });
        return {
          ...detail,
          alsoAt: all.slice(1).map((i) => ({ id: i.id, registry: i.registry, repository: i.repository, tags: i.tags })),
        };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/vulnerabilities',
      role: 'reader',
      operationId: 'listVulnerabilities',
      summary: 'Vulnerabilities across scanned images, by id, severity, fixability and KEV',
      tag: 'vulnerabilities',
      schema: { querystring: S.VulnerabilityListQuery, response: { 200: S.Page(S.VulnerabilitySummary) } },
      handler: async (req) => {
        const q = req.query as VulnQueryT;
        const query: StorageVulnQuery = defined({
          id: q.id,
          severity: severities(q.severity),
          fixable: q.fixable,
          kev: q.kev,
          sort: q.sort,
          order: q.order,
          limit: q.limit,
          offset: q.offset,
          cursor: q.cursor,
        });
        return storage.vulnerabilities.list(query);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/vulnerabilities/:id',
      role: 'reader',
      operationId: 'getVulnerability',
      summary: 'One vulnerability and the images carrying it (one row per image and package)',
      tag: 'vulnerabilities',
      schema: {
        params: S.VulnerabilityIdParams,
        querystring: S.VulnerabilityDetailQuery,
        response: { 200: S.VulnerabilityDetail },
      },
      handler: async (req) => {
        const { id } = req.params as { id: string };
        const q = req.query as { limit?: number; offset?: number };
        const vulnerability = await storage.vulnerabilities.get(id);
        if (!vulnerability)
          throw new PalisadeError('E_NOT_FOUND', 'no such vulnerability in any scanned image', { subject: id });
        return { vulnerability, images: await storage.vulnerabilities.affectedImages(id, defined(q)) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/trends',
      role: 'reader',
      operationId: 'listTrends',
      summary: 'Daily counts of images by worst severity, oldest first (days without a snapshot are absent)',
      tag: 'images',
      schema: {
        querystring: S.TrendQuery,
        response: { 200: S.object({ items: { type: 'array', items: S.TrendPoint } }) },
      },
      handler: async (req) => {
        const { from, to } = req.query as { from: string; to: string };
        const f = Date.parse(`${from}T00:00:00Z`);
        const t = Date.parse(`${to}T00:00:00Z`);
        if (Number.isNaN(f)) throw new PalisadeError('E_INPUT', 'not a date', { subject: 'query.from' });
        if (Number.isNaN(t)) throw new PalisadeError('E_INPUT', 'not a date', { subject: 'query.to' });
        if (t < f) throw new PalisadeError('E_INPUT', 'must not be before query.from', { subject: 'query.to' });
        // A bound on the answer's size: a point a day, and no chart shows more than a year or so.
        if (t - f > MAX_TREND_DAYS * 86_400_000)
          throw new PalisadeError('E_INPUT', `at most ${MAX_TREND_DAYS} days after query.from`, {
            subject: 'query.to',
          });
        return { items: await storage.trends.range(from, to) };
      },
    },
    // ---------- scans ----------
    {
      method: 'POST',
      url: '/api/v1/scans',
      role: 'operator',
      operationId: 'createScan',
      summary: 'Scan an image reference now (a pending scan of the same reference is returned instead of a new one)',
      tag: 'scans',
      schema: { body: S.ScanCreateBody, response: { 202: S.ScanCreated, 200: S.ScanCreated } },
      handler: async (req, reply) => {
        const { reference } = req.body as { reference: string };
        const { scan, created } = await deps.scanQueue.enqueue(reference);
        void reply.code(created ? 202 : 200).header('location', `/api/v1/scans/${scan.id}`);
        return { scan, deduplicated: !created };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/scans',
      role: 'reader',
      operationId: 'listScans',
      summary: 'Scans, newest first',
      tag: 'scans',
      schema: { querystring: S.ScanListQuery, response: { 200: S.Page(S.ScanRecord) } },
      handler: async (req) => storage.scans.list(defined(req.query as ScanQueryT)),
    },
    {
      method: 'GET',
      url: '/api/v1/scans/:id',
      role: 'reader',
      operationId: 'getScan',
      summary: 'One scan: status, attempts, error, timings',
      tag: 'scans',
      schema: { params: S.IdParams, response: { 200: S.ScanDetail } },
      handler: async (req) => {
        const { id } = req.params as { id: string };
        const scan = await storage.scans.get(id);
        if (!scan) throw new PalisadeError('E_NOT_FOUND', 'no such scan', { subject: id });
        return scan;
      },
    },
    {
      method: 'GET',
      url: '/api/v1/scans/:id/report',
      role: 'reader',
      operationId: 'getScanReport',
      summary: 'The JSON report of a succeeded scan, as stored',
      tag: 'scans',
      schema: { params: S.IdParams, response: { 200: S.ScanReport } },
      handler: async (req) => {
        const { id } = req.params as { id: string };
        const report = await storage.scans.report(id);
        if (report) return report;
        const scan = await storage.scans.get(id);
        if (!scan) throw new PalisadeError('E_NOT_FOUND', 'no such scan', { subject: id });
        throw new PalisadeError('E_NOT_FOUND', `the scan has no report (it is ${scan.status})`, { subject: id });
      },
    },
    // ---------- registries (admin) ----------
    {
      method: 'POST',
      url: '/api/v1/registries',
      role: 'admin',
      operationId: 'createRegistry',
      summary: 'Register a registry; credentials are write-only, the webhook token is shown once',
      tag: 'registries',
      schema: { body: S.RegistryCreateBody, response: { 201: S.RegistryCreated } },
      handler: async (req, reply) => {
        const b = req.body as RegistryBodyT & RegistryFlagsT;
        const readOnly = b.readOnly ?? false;
        const created = await storage.withTransaction(async (tx) => {
          const registry = await tx.registries.create({
            name: b.name,
            url: b.url.replace(/\/+$/, ''),
            insecure: b.insecure ?? false,
            readOnly,
            // On by default (the report is attached next to the image, never over it); a
            // read-only registry is never written whatever this says.
            publishResults: b.publishResults ?? !readOnly,
            credentials: b.credentials ?? null,
          });
          const token = await tx.registries.rotateWebhookToken(registry.id);
          return { registry: (await tx.registries.get(registry.id)) ?? registry, token };
        });
        void reply.code(201).header('location', `/api/v1/registries/${created.registry.id}`);
        return {
          registry: showRegistry(created.registry),
          webhook: { url: webhookPath(created.registry.id), token: created.token },
        };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/registries',
      role: 'admin',
      operationId: 'listRegistries',
      summary: 'Registered registries (never their credentials)',
      tag: 'registries',
      schema: { response: { 200: S.object({ items: { type: 'array', items: S.Registry } }) } },
      handler: async () => ({ items: (await storage.registries.list()).map(showRegistry) }),
    },
    {
      method: 'GET',
      url: '/api/v1/registries/:id',
      role: 'admin',
      operationId: 'getRegistry',
      summary: 'One registry (never its credentials)',
      tag: 'registries',
      schema: { params: S.IdParams, response: { 200: S.Registry } },
      handler: async (req) => {
        const { id } = req.params as { id: string };
        const r = await storage.registries.get(id);
        if (!r) throw new PalisadeError('E_NOT_FOUND', 'no such registry', { subject: id });
        return showRegistry(r);
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/registries/:id',
      role: 'admin',
      operationId: 'deleteRegistry',
      summary: 'Remove a registry and its credentials',
      tag: 'registries',
      schema: { params: S.IdParams, response: { 204: null } },
      handler: async (req, reply) => {
        const { id } = req.params as { id: string };
        const deleted = await storage.registries.delete(id);
        // After the commit: a webhook request cannot reload the deleted row after this.
        deps.webhookRegistries?.invalidate(id);
        if (!deleted) throw new PalisadeError('E_NOT_FOUND', 'no such registry', { subject: id });
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/api/v1/registries/:id/webhook-token',
      role: 'admin',
      operationId: 'rotateWebhookToken',
      summary: 'A new webhook token for the registry (shown once); the previous one stops working',
      tag: 'registries',
      schema: { params: S.IdParams, response: { 200: S.WebhookTokenRotated } },
      handler: async (req) => {
        const { id } = req.params as { id: string };
        const rotated = await storage.withTransaction(async (tx) => {
          // Checked first: rotating for a missing registry must be a 404, not a storage error.
          if (!(await tx.registries.get(id))) return null;
          const token = await tx.registries.rotateWebhookToken(id);
          const registry = await tx.registries.get(id);
          return registry ? { registry, token } : null;
        });
        // After the commit, so no webhook request can reload the old hash in between.
        deps.webhookRegistries?.invalidate(id);
        if (!rotated) throw new PalisadeError('E_NOT_FOUND', 'no such registry', { subject: id });
        req.log.info({ registry: id }, 'webhook token rotated');
        return { registry: showRegistry(rotated.registry), webhook: { url: webhookPath(id), token: rotated.token } };
      },
    },
    // ---------- registry notifications (webhook token) ----------
    {
      method: 'POST',
      url: '/api/v1/registries/:id/events',
      role: null,
      auth: 'webhook',
      operationId: 'receiveRegistryEvents',
      summary:
        'Push/pull notifications from the registry (webhook token): pushed images are recorded and queued for one scan per digest',
      tag: 'registries',
      rawBody: {
        contentTypes: [DISTRIBUTION_EVENTS_MEDIA_TYPE, 'application/json', 'application/cloudevents+json'],
        schema: S.RegistryEventsBody,
      },
      schema: { params: S.IdParams, response: { 202: S.RegistryEventsAccepted } },
      handler: async (req, reply) => {
        const { id } = req.params as { id: string };
        // Authenticated (and read, usually from memory) by the onRequest hook.
        const registry = req.webhookRegistry;
        if (!registry) throw new PalisadeError('E_NOT_FOUND', 'no such registry', { subject: id });
        let parsed: ReturnType<typeof parseRegistryEvents>;
        try {
          parsed = parseRegistryEvents(req.body, req.headers['content-type'] ?? '');
        } catch (err) {
          if (!(err instanceof PalisadeError)) throw err;
          const status =
            err.code === 'E_TOO_LARGE' ? 413 : err.code === 'E_UNSUPPORTED' ? 415 : err.code === 'E_INPUT' ? 400 : 0;
          if (status === 0) throw err;
          return reply.code(status).send({ error: { code: err.code, message: err.describe() } });
        }
        const host = registryHost(registry);
        const now = deps.clock.now().toISOString();
        // The image rows' registry name depends on the host only: one parse per request, not per image.
        let imageRegistry: string | undefined;
        const image = (p: { repository: string; digest: string; tag?: string }): EventImage => {
          imageRegistry ??= imageIdentity(`${host}/${p.repository}@${p.digest}`).registry;
          return {
            imageRegistry,
            repository: p.repository,
            digest: p.digest,
            ...(p.tag !== undefined ? { tag: p.tag } : {}),
          };
        };
        // Record and enqueue only: the scan runs in the worker, so the registry gets its answer
        // quickly (it retries, and backs off from, slow endpoints). One transaction for the whole
        // request, and the 202 only after it committed: an accepted event is never only in memory.
        const recorded = await deps.scanQueue.recordRegistryEvents({
          registry,
          pushes: parsed.pushes.map(image),
          pulls: parsed.pulls.map(image),
          at: now,
        });
        const out = {
          received: parsed.total,
          pushes: parsed.pushes.length,
          queued: recorded.queued,
          deduplicated: recorded.deduplicated,
          pulls: recorded.pulls,
          ignored: 0,
        };
        for (const n of Object.values(parsed.ignored)) out.ignored += n;
        if (out.queued > 0) req.log.info({ registry: registry.id, ...out }, 'registry events received');
        void reply.code(202);
        return out;
      },
    },
    // ---------- tokens (admin) ----------
    {
      method: 'POST',
      url: '/api/v1/tokens',
      role: 'admin',
      operationId: 'createToken',
      summary: 'Create an API token; the plaintext is in this response only',
      tag: 'tokens',
      schema: { body: S.TokenCreateBody, response: { 201: S.TokenCreated } },
      handler: async (req, reply) => {
        const b = req.body as TokenBodyT;
        if (b.expiresAt !== undefined && Date.parse(b.expiresAt) <= deps.clock.now().getTime()) {
          throw new PalisadeError('E_INPUT', 'must be in the future', { subject: 'body.expiresAt' });
        }
        const created = await storage.tokens.create(
          defined({
            name: b.name,
            role: b.role,
            expiresAt: b.expiresAt === undefined ? undefined : new Date(b.expiresAt).toISOString(),
          }),
        );
        void reply.code(201);
        return created;
      },
    },
    {
      method: 'GET',
      url: '/api/v1/tokens',
      role: 'admin',
      operationId: 'listTokens',
      summary: 'API tokens (never their plaintext or hash)',
      tag: 'tokens',
      schema: { response: { 200: S.object({ items: { type: 'array', items: S.ApiToken } }) } },
      handler: async () => ({ items: await storage.tokens.list() }),
    },
    {
      method: 'DELETE',
      url: '/api/v1/tokens/:id',
      role: 'admin',
      operationId: 'revokeToken',
      summary: 'Revoke an API token',
      tag: 'tokens',
      schema: { params: S.IdParams, response: { 204: null } },
      handler: async (req, reply) => {
        const { id } = req.params as { id: string };
        if (!(await storage.tokens.revoke(id)))
          throw new PalisadeError('E_NOT_FOUND', 'no such token (or already revoked)', { subject: id });
        return reply.code(204).send();
      },
    },
    ...buildRuntimeRoutes(deps),
    ...buildClusterRoutes(deps),
  ];
}

export { E as ErrorSchema };
