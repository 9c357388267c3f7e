/**
 * createApp: the Fastify application of `palisade server`, from injected dependencies (no
 * singletons here; app.ts wires them). Requests are validated by the route schemas with Ajv set
 * to reject unknown fields (Fastify's default silently drops them), every /api/v1 route needs a
 * bearer token whose role allows it, and every error is `{"error": {"code", "message"}}` with no
 * stack trace.
 */
import type { Server as HttpsServer } from 'node:https';
import Fastify, {
  type FastifyError,
  type FastifyHttpsOptions,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import { isPalisadeError, type Clock, type ErrorCode } from '@palisade/core';
import type { Registry, Role, Storage } from '../storage/index.js';
import type { ScanQueue } from '../worker/queue.js';
import type { VulnDbState } from '../worker/vulndb.js';
import { bearerToken, createAuthenticator, roleAllows, type Authenticator, type Principal } from './auth.js';
import { createMetrics, type Metrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { buildRoutes, type RouteDef } from './routes.js';
import { serveConsole } from './console.js';
import { createWebhookRegistryCache } from './webhook-cache.js';
import { DEFAULT_BODY_LIMIT } from '../config/index.js';
import { DISTRIBUTION_EVENTS_MEDIA_TYPE, webhookTokenOf } from '../registry/index.js';
import type { IngestAuthenticator, IngestCluster } from '../runtime/auth.js';
import type { RuntimePipeline } from '../runtime/pipeline.js';
import type { ClusterRouteSettings } from './cluster-routes.js';

export interface AppLogOptions {
  level: string;
  /** Where log lines go (default stdout). */
  stream?: NodeJS.WritableStream;
}

export interface AppDependencies {
  storage: Storage;
  clock: Clock;
  scanQueue: ScanQueue;
  vulnDbStatus: () => VulnDbState;
  /** false: no logging (tests). */
  logger: AppLogOptions | false;
  metrics?: Metrics;
  /** Default: tokens from storage only. */
  authenticator?: Authenticator;
  /** Bytes; larger bodies get 413. */
  bodyLimit?: number;
  https?: { cert: Buffer; key: Buffer };
  /** The built web console to serve at `/` (absent: API only). */
  consoleDir?: string;
  /** Runtime ingest (absent: POST /api/v1/ingest/runtime answers 503). */
  runtime?: RuntimePipeline;
  /** Checks cluster ingest tokens (absent: every ingest request is 401). */
  ingestAuth?: IngestAuthenticator;
  /** The clusters routes' settings (server config `clusters`); absent: exec plugins refused, defaults. */
  clusters?: ClusterRouteSettings;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** On webhook routes: the registry whose token the request carried (checked in onRequest). */
    webhookRegistry: Registry | null;
    /** On ingest routes: the cluster whose ingest token the request carried (checked in onRequest). */
    ingestCluster: IngestCluster | null;
  }
  interface FastifyContextConfig {
    role?: Role | null;
    /** Authenticated by the `:id` registry's webhook token instead of an API token. */
    webhook?: boolean;
    /** Authenticated by a cluster ingest token instead of an API token. */
    ingest?: boolean;
  }
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  E_INPUT: 400,
  E_CONFIG: 400,
  E_AUTH: 401,
  E_NOT_FOUND: 404,
  E_TOO_LARGE: 413,
  E_UNSUPPORTED: 400,
  E_UNSAFE_PATH: 400,
  E_PLATFORM: 400,
  E_DB: 503,
};

// What pino must never write, whatever a future log line includes.
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  'token',
  '*.password',
  '*.token',
  'credentials',
];

export function createApp(deps: AppDependencies): FastifyInstance {
  const metrics = deps.metrics ?? createMetrics();
  const auth = deps.authenticator ?? createAuthenticator(deps.storage);
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const options: FastifyServerOptions = {
    bodyLimit,
    logger:
      deps.logger === false
        ? false
        : {
            level: deps.logger.level,
            ...(deps.logger.stream ? { stream: deps.logger.stream } : {}),
            redact: { paths: REDACT, censor: '[redacted]' },
          },
    ajv: {
      // Unknown fields are an error naming the field, not silently removed; query strings still
      // get their numbers and booleans coerced.
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
    schemaErrorFormatter: (errors, dataVar) => new Error(formatValidation(errors, dataVar)),
    // Route paths are matched case-sensitively; trailing slashes are not a second route.
    routerOptions: { ignoreTrailingSlash: true },
  };
  // Fastify's https overload types the instance with an https.Server; the routes do not care.
  const app = (deps.https
    ? Fastify({ ...options, https: deps.https } as FastifyHttpsOptions<HttpsServer>)
    : Fastify(options)) as unknown as FastifyInstance;

  app.decorateRequest('principal', null);
  app.decorateRequest('webhookRegistry', null);
  app.decorateRequest('ingestCluster', null);
  const webhookRegistries = createWebhookRegistryCache(deps.storage);
  // The API speaks JSON only; a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  // Registry notifications come as these; the events route parses the bytes itself (with the
  // body limit applied here as for JSON). Other routes validate a body against an object schema,
  // so such a body is a 400 there.
  app.addContentTypeParser(
    [DISTRIBUTION_EVENTS_MEDIA_TYPE, 'application/cloudevents+json'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  app.addHook('onRequest', async (req, reply) => {
    // Decide from the route the router matched, never from the raw URL: the router decodes
    // %XX escapes, so a prefix test on req.url let `/%61pi/v1/tokens` reach an admin route as if
    // it were a public page. Every matched route needs a token unless its table entry says
    // `role: null`; unmatched requests (console files, 404s) carry no API data.
    const matched = req.routeOptions.url !== undefined;
    const { config } = req.routeOptions;
    if (matched && config.role === null && config.webhook !== true && config.ingest !== true) return;
    if (!matched && !looksLikeApiPath(req.url)) return;
    if (req.routeOptions.config.webhook) {
      // Before the body is read: a wrong token costs at most one indexed lookup (usually none:
      // the registry is cached) and enqueues nothing. The handler gets the registry from here.
      const token = webhookTokenOf(req.headers.authorization);
      const { id } = req.params as { id?: string };
      const registry = token === undefined || id === undefined ? null : await webhookRegistries.authenticate(id, token);
      req.webhookRegistry = registry;
      if (registry === null) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="palisade-webhook"')
          .send(errorBody('E_AUTH', 'send this registry\'s webhook token: "Authorization: Bearer <token>"'));
      }
      return;
    }
    if (req.routeOptions.config.ingest) {
      // Before the body is read: a wrong token costs one lookup and no decompression or parsing.
      const presented = bearerToken(req.headers.authorization);
      const cluster = presented === undefined || !deps.ingestAuth ? null : await deps.ingestAuth.verify(presented);
      req.ingestCluster = cluster;
      if (cluster === null) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="palisade-ingest"')
          .send(errorBody('E_AUTH', 'send the cluster\'s ingest token: "Authorization: Bearer <token>"'));
      }
      return;
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="palisade"')
        .send(errorBody('E_AUTH', 'missing bearer token: send "Authorization: Bearer <token>"'));
    }
    const principal = await auth.authenticate(token);
    if (!principal) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="palisade", error="invalid_token"')
        .send(errorBody('E_AUTH', 'unknown, revoked or expired token'));
    }
    req.principal = principal;
    const need = req.routeOptions.config.role;
    if (need && !roleAllows(principal.role, need)) {
      return reply.code(403).send(errorBody('E_AUTH', `this needs the ${need} role; the token has ${principal.role}`));
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.countRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return reply.code(400).send(errorBody('E_INPUT', err.message));
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply
          .code(413)
          .send(errorBody('E_TOO_LARGE', `request body larger than ${req.routeOptions.bodyLimit ?? bodyLimit} bytes`));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply
          .code(415)
          .send(
            errorBody(
              'E_INPUT',
              req.routeOptions.config.webhook
                ? `send the body as ${DISTRIBUTION_EVENTS_MEDIA_TYPE} or application/json`
                : 'send the body as application/json',
            ),
          );
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send(errorBody('E_INPUT', 'body: a JSON object is required'));
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send(errorBody('E_INPUT', 'body: not valid JSON'));
    }
    if (isPalisadeError(err)) {
      const status = STATUS_OF[err.code] ?? 500;
      if (status >= 500) req.log.error({ code: err.code, message: err.describe() }, 'request failed');
      return reply
        .code(status)
        .send(errorBody(err.code, status >= 500 && err.code !== 'E_DB' ? 'internal error' : err.describe()));
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send(errorBody('E_INPUT', err.message));
    }
    // A bug: the stack goes to the log, the client gets a request id to quote.
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody('E_INTERNAL', `internal error (request ${req.id})`));
  });

  const consoleDir = deps.consoleDir;
  app.setNotFoundHandler((req, reply) => {
    if (consoleDir && serveConsole(consoleDir, req, reply)) return reply;
    return reply.code(404).send(errorBody('E_NOT_FOUND', `no route ${req.method} ${req.url.split('?', 1)[0] ?? ''}`));
  });

  const routes: RouteDef[] = buildRoutes({ ...deps, metrics, webhookRegistries });
  let doc: string | undefined;
  routes.push({
    method: 'GET',
    url: '/openapi.json',
    role: null,
    operationId: 'openapi',
    summary: 'This API as an OpenAPI 3.1 document',
    tag: 'operations',
    schema: { response: { 200: null } },
    produces: 'application/json',
    handler: async (_req, reply) => {
      doc ??= JSON.stringify(buildOpenApi(routes));
      return reply.type('application/json; charset=utf-8').send(doc);
    },
  });
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      config: { role: r.role, webhook: r.auth === 'webhook', ingest: r.auth === 'ingest' },
      ...(r.bodyLimit !== undefined ? { bodyLimit: r.bodyLimit } : {}),
      ...(r.preParsing ? { preParsing: r.preParsing } : {}),
      schema: {
        ...(r.schema.params ? { params: r.schema.params } : {}),
        ...(r.schema.querystring ? { querystring: r.schema.querystring } : {}),
        ...(r.schema.body ? { body: r.schema.body } : {}),
        response: Object.fromEntries(
          Object.entries(r.schema.response).filter((e): e is [string, Record<string, unknown>] => e[1] !== null),
        ),
      },
      handler: r.handler,
    });
  }
  return app;
}

/** `/api/…` after decoding and collapsing slashes: unknown API paths answer 401 before 404. */
function looksLikeApiPath(url: string): boolean {
  const raw = url.split('?', 1)[0] ?? '';
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return true; // undecodable: treat as API, so it needs a token
  }
  return path.replace(/\/{2,}/g, '/').startsWith('/api/');
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** One line naming the field: `body.credentials.token: unknown field`, `querystring.limit: must be <= 500`. */
export function formatValidation(errors: readonly ValidationIssue[], dataVar: string): string {
  const e = errors[0];
  if (!e) return `${dataVar}: invalid`;
  const base =
    dataVar +
    e.instancePath.replace(/\/([^/]*)/g, (_m: string, seg: string) =>
      /^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`,
    );
  const p = e.params;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${base}.${String(p['additionalProperty'])}: unknown field`;
    case 'required':
      return `${base}.${String(p['missingProperty'])}: required`;
    case 'enum':
      return `${base}: must be one of ${(p['allowedValues'] as unknown[] | undefined)?.map((v) => JSON.stringify(v)).join(', ') ?? 'the allowed values'}`;
    default:
      return `${base}: ${e.message ?? 'invalid'}`;
  }
}
