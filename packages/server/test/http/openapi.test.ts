/** The OpenAPI document: valid JSON, OpenAPI 3.1, every served route in it, schemas Ajv can compile. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { tempDir } from '@palisade/testkit';
import { openStorage } from '../../src/storage/index.js';
import { testApp } from './helpers.js';

test('GET /openapi.json is an OpenAPI 3.1 document listing every route with its schemas', async () => {
  const dir = tempDir();
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 2) });
  const { app } = await testApp(storage);
  try {
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const doc = JSON.parse(r.body) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            security: unknown[];
            'x-palisade-role': string;
            responses: Record<string, unknown>;
            requestBody?: { content: Record<string, { schema: object }> };
            parameters?: Array<{ name: string; in: string; schema: object }>;
          }
        >
      >;
      components: { securitySchemes: Record<string, unknown> };
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.components.securitySchemes['bearerAuth']);
    // Every route Fastify serves (HEAD is Fastify's automatic twin of GET).
    const served: string[] = [];
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      for (const path of Object.keys(doc.paths)) {
        const fastifyPath = path.replace(/\{([^}]+)\}/g, ':$1');
        if (app.hasRoute({ method, url: fastifyPath })) served.push(`${method} ${path}`);
      }
    }
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    assert.deepEqual(served.sort(), documented.sort(), 'documented = served');
    for (const need of [
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /api/v1/images',
      'GET /api/v1/images/{digest}',
      'GET /api/v1/vulnerabilities',
      'POST /api/v1/scans',
      'GET /api/v1/scans',
      'GET /api/v1/scans/{id}',
      'POST /api/v1/registries',
      'GET /api/v1/registries',
      'DELETE /api/v1/registries/{id}',
      'POST /api/v1/registries/{id}/events',
      'POST /api/v1/tokens',
      'GET /api/v1/tokens',
      'DELETE /api/v1/tokens/{id}',
    ]) {
      assert.ok(documented.includes(need), need);
    }
    const ajv = new Ajv2020({ strict: false });
    ajv.addFormat('date-time', true);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        assert.equal(
          path.startsWith('/api/v1/'),
          op.security.length > 0,
          `${method} ${path}: secured iff under /api/v1`,
        );
        // The registry events route is authenticated by a webhook token, which has no role: 401 only.
        if (path.startsWith('/api/v1/') && ['webhook', 'ingest'].includes(op['x-palisade-role']))
          assert.ok(op.responses['401'] && !op.responses['403'], `${method} ${path} documents 401, not 403`);
        else if (path.startsWith('/api/v1/'))
          assert.ok(op.responses['401'] && op.responses['403'], `${method} ${path} documents 401/403`);
        const schemas = [
          ...(op.parameters ?? []).map((p) => p.schema),
          ...Object.values(op.requestBody?.content ?? {}).map((c) => c.schema),
        ];
        for (const s of schemas) assert.doesNotThrow(() => ajv.compile(s), `${method} ${path}`);
        // Registry notifications are the registry's format, full of fields Palisade does not read.
        if (op.requestBody && op['x-palisade-role'] !== 'webhook') {
          const body = op.requestBody.content['application/json']?.schema as { additionalProperties?: boolean };
          assert.equal(body.additionalProperties, false, `${method} ${path} forbids unknown fields`);
        }
      }
    }
  } finally {
    await app.close();
    await storage.close();
    dir.cleanup();
  }
});
