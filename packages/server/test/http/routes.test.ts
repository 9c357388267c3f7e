/**
 * The routes the console calls beyond the lists: one vulnerability with its images, the trend,
 * a scan's stored report, and rotating a registry's webhook token. Roles (401/403), 404 for
 * unknown ids, and the shapes the console's client reads. On both backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { PALISADE_VERSION, type ScanReport } from '@palisade/core';
import { resultFromReport, type Storage } from '../../src/storage/index.js';
import { forEachBackend, sha } from '../storage/harness.js';
import { bearer, testApp } from './helpers.js';

function report(digest: string): ScanReport {
  const p = {
    id: 'pkg-1',
    name: 'openssl',
    version: '3.0.1',
    type: 'deb' as const,
    purl: 'pkg:deb/debian/openssl@3.0.1',
    locations: [{ path: 'var/lib/dpkg/status', layerDigest: sha(7) }],
    foundBy: 'dpkg',
  };
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: PALISADE_VERSION },
    createdAt: new Date().toISOString(),
    artifact: { name: 'reg.example.com/app:1', kind: 'registry', digest, layers: [{ digest: sha(7), size: 10 }] },
    packages: [p],
    vulnerabilities: [
      {
        id: 'CVE-2024-1',
        aliases: [],
        package: { id: p.id, name: p.name, version: p.version, type: p.type, purl: p.purl },
        installedVersion: p.version,
        fixedVersions: ['3.0.2'],
        status: 'fixed',
        severity: 'high',
        severitySource: 'debian',
        cvss: [],
        dataSource: { feed: 'debian', id: 'CVE-2024-1' },
        references: [],
      },
    ],
    warnings: [],
  };
}

/** One scanned image (CVE-2024-1 in openssl), one queued scan. */
async function seed(s: Storage): Promise<{ scanned: string; queued: string }> {
  const scan = await s.scans.create({ imageRef: 'reg.example.com/app:1' });
  await s.scans.start(scan.id);
  const r = report(sha(42));
  await s.withTransaction(async (tx) => {
    await tx.images.upsert({ registry: 'reg.example.com', repository: 'app', digest: sha(42), tags: ['1'] });
    await tx.findings.replaceForDigest(sha(42), resultFromReport(r, scan.id));
    await tx.scans.succeed(scan.id, r);
  });
  const queued = await s.scans.create({ imageRef: 'reg.example.com/app:2' });
  return { scanned: scan.id, queued: queued.id };
}

forEachBackend((h) => {
  test('GET /api/v1/vulnerabilities/{id}: the summary and a page of affected images', async () => {
    const s = await (await h.fresh()).open();
    const { app, tokens } = await testApp(s);
    await seed(s);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/vulnerabilities/CVE-2024-1' })).statusCode, 401);
    const r = await app.inject({
      method: 'GET',
      url: '/api/v1/vulnerabilities/CVE-2024-1',
      headers: bearer(tokens.reader),
    });
    assert.equal(r.statusCode, 200);
    const body = r.json<{
      vulnerability: { id: string; affectedImages: number };
      images: {
        items: Array<{ image: { digest: string; repository: string }; packageName: string; fixedVersions: string[] }>;
        total: number;
        nextCursor: null;
      };
    }>();
    assert.equal(body.vulnerability.id, 'CVE-2024-1');
    assert.equal(body.vulnerability.affectedImages, 1);
    assert.equal(body.images.total, 1);
    assert.equal(body.images.nextCursor, null);
    assert.deepEqual(
      body.images.items.map((i) => [i.image.digest, i.image.repository, i.packageName, i.fixedVersions]),
      [[sha(42), 'app', 'openssl', ['3.0.2']]],
    );
    const paged = await app.inject({
      method: 'GET',
      url: '/api/v1/vulnerabilities/CVE-2024-1?limit=1&offset=1',
      headers: bearer(tokens.reader),
    });
    assert.equal(paged.json<{ images: { items: unknown[]; total: number } }>().images.items.length, 0);
    const missing = await app.inject({
      method: 'GET',
      url: '/api/v1/vulnerabilities/CVE-1999-0',
      headers: bearer(tokens.reader),
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'E_NOT_FOUND');
    const bad = await app.inject({
      method: 'GET',
      url: '/api/v1/vulnerabilities/CVE-2024-1?page=2',
      headers: bearer(tokens.reader),
    });
    assert.equal(bad.statusCode, 400);
    await app.close();
    await s.close();
  });

  test('GET /api/v1/trends: the points between two days, validated', async () => {
    const s = await (await h.fresh()).open();
    const { app, tokens } = await testApp(s);
    await seed(s);
    await s.trends.snapshot('2025-01-02');
    await s.trends.snapshot('2025-01-05');
    const get = (q: string, token = tokens.reader): Promise<LightMyRequestResponse> =>
      app.inject({ method: 'GET', url: `/api/v1/trends${q}`, headers: bearer(token) });
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/v1/trends?from=2025-01-01&to=2025-01-31' })).statusCode,
      401,
    );
    const r = await get('?from=2025-01-01&to=2025-01-03');
    assert.equal(r.statusCode, 200);
    const { items } = r.json<{
      items: Array<{ day: string; images: number; high: number; clean: number; unscanned: number }>;
    }>();
    assert.deepEqual(items, [
      {
        day: '2025-01-02',
        images: 1,
        clean: 0,
        unscanned: 0,
        critical: 0,
        high: 1,
        medium: 0,
        low: 0,
        negligible: 0,
        unknown: 0,
      },
    ]);
    assert.equal((await get('?from=2025-01-01&to=2025-01-31')).json<{ items: unknown[] }>().items.length, 2);
    for (const q of [
      '',
      '?from=2025-01-01',
      '?from=2025-1-1&to=2025-01-31',
      '?from=2025-02-01&to=2025-01-01',
      '?from=2020-01-01&to=2025-01-01',
      '?from=2025-02-30&to=2025-03-01',
    ]) {
      const bad = await get(q);
      assert.equal(bad.statusCode, 400, q);
    }
    await app.close();
    await s.close();
  });

  test('GET /api/v1/scans/{id}/report: the stored report; 404 for unknown scans and scans without one', async () => {
    const s = await (await h.fresh()).open();
    const { app, tokens } = await testApp(s);
    const { scanned, queued } = await seed(s);
    assert.equal((await app.inject({ method: 'GET', url: `/api/v1/scans/${scanned}/report` })).statusCode, 401);
    const r = await app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanned}/report`,
      headers: bearer(tokens.reader),
    });
    assert.equal(r.statusCode, 200);
    const body = r.json<ScanReport>();
    assert.deepEqual(body, await s.scans.report(scanned));
    assert.equal(body.artifact.layers[0]?.digest, sha(7));
    for (const id of [queued, 'no-such-scan']) {
      const m = await app.inject({ method: 'GET', url: `/api/v1/scans/${id}/report`, headers: bearer(tokens.reader) });
      assert.equal(m.statusCode, 404, id);
    }
    await app.close();
    await s.close();
  });

  test('POST /api/v1/registries/{id}/webhook-token: admin only; the new token works, the old one not', async () => {
    const s = await (await h.fresh()).open();
    const { app, tokens } = await testApp(s);
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/registries',
      headers: bearer(tokens.admin),
      payload: { name: 'r1', url: 'https://registry.example.com' },
    });
    const { registry, webhook } = created.json<{ registry: { id: string }; webhook: { token: string } }>();
    const url = `/api/v1/registries/${registry.id}/webhook-token`;
    assert.equal((await app.inject({ method: 'POST', url })).statusCode, 401);
    for (const t of [tokens.reader, tokens.operator]) {
      assert.equal((await app.inject({ method: 'POST', url, headers: bearer(t) })).statusCode, 403);
    }
    assert.equal(
      await s.registries.verifyWebhookToken(registry.id, webhook.token),
      true,
      'refused calls changed nothing',
    );
    const r = await app.inject({ method: 'POST', url, headers: bearer(tokens.admin) });
    assert.equal(r.statusCode, 200);
    const rotated = r.json<{
      registry: { id: string; hasWebhookToken: boolean };
      webhook: { url: string; token: string };
    }>();
    assert.equal(rotated.registry.id, registry.id);
    assert.equal(rotated.registry.hasWebhookToken, true);
    assert.equal(rotated.webhook.url, `/api/v1/registries/${registry.id}/events`);
    assert.notEqual(rotated.webhook.token, webhook.token);
    assert.equal(await s.registries.verifyWebhookToken(registry.id, rotated.webhook.token), true);
    assert.equal(await s.registries.verifyWebhookToken(registry.id, webhook.token), false);
    // Shown once: nothing readable afterwards carries it.
    const shown = await app.inject({
      method: 'GET',
      url: `/api/v1/registries/${registry.id}`,
      headers: bearer(tokens.admin),
    });
    assert.ok(!shown.body.includes(rotated.webhook.token));
    const missing = await app.inject({
      method: 'POST',
      url: '/api/v1/registries/nope/webhook-token',
      headers: bearer(tokens.admin),
    });
    assert.equal(missing.statusCode, 404);
    await app.close();
    await s.close();
  });
});

test('the new routes are in /openapi.json', async () => {
  const { openStorage } = await import('../../src/storage/index.js');
  const { tempDir } = await import('@palisade/testkit');
  const d = tempDir();
  const s = await openStorage({ dataDir: d.path, secretKey: Buffer.alloc(32, 1) });
  try {
    const { app } = await testApp(s);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    assert.ok(doc.paths['/api/v1/vulnerabilities/{id}']?.['get']);
    assert.ok(doc.paths['/api/v1/trends']?.['get']);
    assert.ok(doc.paths['/api/v1/scans/{id}/report']?.['get']);
    assert.ok(doc.paths['/api/v1/registries/{id}/webhook-token']?.['post']);
    await app.close();
  } finally {
    await s.close();
    d.cleanup();
  }
});
