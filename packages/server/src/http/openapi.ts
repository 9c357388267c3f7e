/**
 * The OpenAPI 3.1 document, generated from the route table: the schemas in it are the very
 * objects Ajv validates requests with. OpenAPI 3.1 uses JSON Schema 2020-12, so the schemas go
 * in unchanged (`type: [x, "null"]` included).
 */
import { PALISADE_VERSION } from '@palisade/core';
import type { RouteDef } from './routes.js';
import { ErrorBody, type JsonSchema } from './schemas.js';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, unknown>;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted: queued',
  204: 'No content',
  400: 'Invalid request (the message names the field)',
  401: 'Missing or unknown bearer token',
  415: 'Unsupported content type',
  403: 'The token’s role does not allow this',
  404: 'Not found',
  413: 'Request body too large',
  503: 'Not ready',
};

function props(schema: JsonSchema | undefined): Array<[string, JsonSchema, boolean]> {
  if (!schema) return [];
  const p = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const req = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(p).map(([k, v]) => [k, v, req.has(k)]);
}

export function buildOpenApi(routes: readonly RouteDef[]): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorRef = { $ref: '#/components/schemas/Error' };
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters = [
      ...props(r.schema.params).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
      ...props(r.schema.querystring).map(([name, schema, required]) => ({ name, in: 'query', required, schema })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries(r.schema.response)) {
      const description = STATUS_TEXT[Number(code)] ?? 'Response';
      responses[code] =
        schema === null
          ? r.produces
            ? { description, content: { [r.produces]: { schema: { type: 'string' } } } }
            : { description }
          : { description, content: { 'application/json': { schema } } };
    }
    const errors = [
      ...(r.schema.body || r.schema.querystring || r.schema.params ? [400] : []),
      ...(r.rawBody ? [400] : []),
      ...(r.role ? [401, 403] : r.auth ? [401] : []),
      ...(r.schema.params ? [404] : []),
      ...(r.schema.body || r.rawBody ? [413] : []),
      ...(r.rawBody ? [415] : []),
    ];
    for (const code of errors)
      responses[String(code)] ??= {
        description: STATUS_TEXT[code],
        content: { 'application/json': { schema: errorRef } },
      };
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      security: r.role ? [{ bearerAuth: [] }] : r.auth ? [{ [`${r.auth}Token`]: [] }] : [],
      'x-palisade-role': r.role ?? r.auth ?? 'none',
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.schema.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } }
        : r.rawBody
          ? {
              requestBody: {
                required: true,
                content: Object.fromEntries(r.rawBody.contentTypes.map((t) => [t, { schema: r.rawBody?.schema }])),
              },
            }
          : {}),
      responses,
    };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Palisade API',
      version: PALISADE_VERSION,
      description:
        'Container security platform API. Every /api/v1 route needs `Authorization: Bearer <token>`; roles: reader (read results), operator (also start scans), admin (also registries and tokens).',
    },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'API token (pal_…)' },
        webhookToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'a registry’s webhook token (pal_wh_…), from the response to POST /api/v1/registries',
        },
        ingestToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'a cluster’s ingest token: it can send runtime telemetry for that cluster, nothing else',
        },
      },
      schemas: { Error: ErrorBody },
    },
  };
}
