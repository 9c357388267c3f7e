/**
 * Attack paths of connected clusters on both storage backends, against the recorded cluster
 * served over HTTPS: ranked with the server's stored scan results looked up by the digest the
 * pods run (and by reference when that digest was not scanned), without scan data, a scan landed
 * after a snapshot, determinism, the API (paging, filters, roles), and exec credential plugins
 * refused unless the server allows them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Severity } from '@palisade/core';
import { attackPathsOfObjects } from '@palisade/posture';
import { tempDir } from '@palisade/testkit';
import { createClusterConnector, type ConnectorOptions } from '../../src/clusters/index.js';
import { createApp } from '../../src/http/app.js';
import type { ClusterRouteSettings } from '../../src/http/cluster-routes.js';
import type { FindingInput, Storage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';
import { forEachBackend, TestClock, type TestDb } from '../storage/harness.js';
import { cleanupCertificates, FIXTURE_TOKEN, objectNamed, startFakeCluster, type FakeCluster } from './fake-cluster.js';

after(() => cleanupCertificates());

type Json = Record<string, unknown>;

/** What the fixture's shop/web pods run (status.containerStatuses[].imageID). */
const NGINX_DIGEST = 'sha256:28402db69fec7c17e179ea87882667f1e054391138f77ffaf0c3eb388efc3ffb';
const EXPORTER_TAGGED = `sha256:${'e1'.repeat(32)}`;
const EXPORTER_OLDER = `sha256:${'e0'.repeat(32)}`;

interface Ctx {
  db: TestDb;
  storage: Storage;
  app: FastifyInstance;
  tokens: { admin: string; reader: string };
  fake: FakeCluster;
  clock: TestClock;
}

async function appOn(storage: Storage, clusters?: ClusterRouteSettings): Promise<FastifyInstance> {
  const app = createApp({
    storage,
    clock: systemClock,
    scanQueue: createScanQueue(storage, { allowLocalSources: false }),
    vulnDbStatus: () => ({ loaded: true, path: '/x/vuln.db', builtAt: '2025-01-01T00:00:00.000Z', error: null }),
    logger: false,
    ...(clusters ? { clusters } : {}),
  });
  await app.ready();
  return app;
}

async function call(
  app: FastifyInstance,
  token: string | null,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Json; text: string }> {
  const res = await app.inject({
    method,
    url,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    ...(body !== undefined ? { payload: body as Json } : {}),
  });
  return { status: res.statusCode, json: res.body === '' ? {} : res.json<Json>(), text: res.body };
}

function vuln(id: string, severity: Severity, extra: Partial<FindingInput> = {}): FindingInput {
  return {
    vulnerabilityId: id,
    aliases: [],
    packageId: `pkg-${id}`,
    packageName: 'openssl',
    packageVersion: '3.0.1',
    packageType: 'deb',
    purl: 'pkg:deb/debian/openssl@3.0.1',
    severity,
    fixedVersions: [],
    kev: false,
    epss: null,
    epssPercentile: null,
    layerDigest: null,
    title: null,
    ...extra,
  };
}

/** Land a scan result for a digest, as the worker does. */
async function scanned(
  storage: Storage,
  digest: string,
  findings: FindingInput[],
  at = '2026-11-01T00:00:00.000Z',
): Promise<void> {
  await storage.findings.replaceForDigest(digest, { scanId: null, scannedAt: at, packages: [], findings });
}

const NGINX_VULNS = [
  vuln('CVE-2099-0002', 'critical', { fixedVersions: ['3.0.2'] }),
  // The same vulnerability in a second package counts once.
  vuln('CVE-2099-0002', 'critical', { packageId: 'pkg-libssl', packageName: 'libssl3', fixedVersions: ['3.0.2'] }),
  vuln('CVE-2099-0001', 'critical', { kev: true, epss: 0.9 }),
  vuln('CVE-2099-0003', 'high'),
  vuln('CVE-2099-0004', 'low', { fixedVersions: ['1.1'] }),
];

function items(j: Json): Json[] {
  return j['items'] as Json[];
}
function steps(p: Json): Json[] {
  return p['steps'] as Json[];
}

forEachBackend((h) => {
  const setup = async (): Promise<Ctx> => {
    const db = await h.fresh();
    const clock = new TestClock('2026-11-06T10:00:00.000Z');
    const storage = await db.open({ clock });
    const app = await appOn(storage);
    const admin = (await storage.tokens.create({ name: 'a', role: 'admin' })).token;
    const reader = (await storage.tokens.create({ name: 'r', role: 'reader' })).token;
    const fake = await startFakeCluster();
    return { db, storage, app, tokens: { admin, reader }, fake, clock };
  };
  const teardown = async (c: Ctx): Promise<void> => {
    await c.app.close();
    await c.fake.close();
  };
  const connector = (c: Ctx, extra: Partial<ConnectorOptions> = {}): ReturnType<typeof createClusterConnector> =>
    createClusterConnector({ storage: c.storage, clock: c.clock, pageSize: 50, requestTimeoutMs: 1500, ...extra });
  const register = async (c: Ctx, kubeconfig = c.fake.kubeconfig()): Promise<string> => {
    const r = await call(c.app, c.tokens.admin, 'POST', '/api/v1/clusters', { name: 'kind-test', kubeconfig });
    assert.equal(r.status, 201, r.text);
    return String((r.json['cluster'] as Json)['id']);
  };
  const paths = async (c: Ctx, id: string, query = ''): Promise<Json> => {
    const r = await call(c.app, c.tokens.reader, 'GET', `/api/v1/clusters/${id}/attack-paths${query}`);
    assert.equal(r.status, 200, r.text);
    return r.json;
  };

  test(`${h.backend}: a privileged internet-facing workload whose running digest has stored critical vulns tops the paths, named`, async () => {
    const c = await setup();
    try {
      await scanned(c.storage, NGINX_DIGEST, NGINX_VULNS);
      const id = await register(c);
      const out = await connector(c).snapshotCluster(id);
      assert.equal(out.status, 'ok', String(out.error));

      const page = await paths(c, id);
      const list = items(page);
      assert.equal(page['total'], out.snapshot?.attackPaths);
      assert.equal(list.length, 2);
      const top = list[0] as Json;
      assert.equal(top['rank'], 1);
      assert.match(
        String(top['explanation']),
        /^Internet-facing Deployment shop\/web \(Ingress shop\/web :80\) runs image nginx:1\.27 with 2 critical vulnerabilities \(1 in KEV\) and runs container nginx privileged, which gives control of the node it runs on\.$/,
      );
      // KEV (1.0) capped, × Ingress (1.0) × node (0.9).
      assert.equal(top['score'], 90);
      assert.equal(top['severity'], 'critical');
      assert.deepEqual(top['factors'], { exposure: 1, exploitability: 1, impact: 0.9 });
      assert.deepEqual(top['workload'], { namespace: 'shop', apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' });
      assert.deepEqual(top['target'], { kind: 'node', name: 'its node' });
      assert.deepEqual(
        steps(top).map((s) => [s['kind'], s['objectKind'], s['namespace'], s['name']]),
        [
          ['entry', 'Ingress', 'shop', 'web'],
          ['workload', 'Deployment', 'shop', 'web'],
          ['image', null, null, 'nginx:1.27'],
          ['privilege', null, 'shop', 'privileged container nginx'],
          ['target', 'Node', null, 'its node'],
        ],
      );
      const image = steps(top)[2] as Json;
      assert.deepEqual(image['vulnerabilities'], {
        critical: 2,
        high: 1,
        medium: 0,
        low: 1,
        kev: 1,
        fixable: 2,
        epss: 0.9,
      });
      assert.equal(image['digest'], NGINX_DIGEST);
      assert.equal(image['vulnerabilitySource'], 'digest');
      assert.deepEqual(image['vulnerabilityIds'], ['CVE-2099-0001', 'CVE-2099-0002', 'CVE-2099-0003']);
      assert.deepEqual(image['mitre'], ['T1190']);
      assert.deepEqual(top['mitre'], ['T1190', 'T1611']);
      assert.equal(top['snapshotId'], out.snapshot?.id);

      // The DaemonSet's image has no stored scan: its path has no image step.
      const second = list[1] as Json;
      assert.equal((second['workload'] as Json)['name'], 'node-exporter');
      assert.ok(!steps(second).some((s) => s['kind'] === 'image'));
      assert.deepEqual((steps(second)[0] as Json)['objectKind'], null);

      // Filters and paging.
      assert.deepEqual(
        items(await paths(c, id, '?namespace=monitoring')).map((p) => p['rank']),
        [2],
      );
      assert.equal((await paths(c, id, '?severity=critical'))['total'], 1);
      assert.equal((await paths(c, id, '?target=cluster'))['total'], 0);
      const first = await paths(c, id, '?limit=1');
      assert.equal(items(first).length, 1);
      const next = await paths(c, id, `?limit=1&cursor=${String(first['nextCursor'])}`);
      assert.deepEqual(
        items(next).map((p) => p['rank']),
        [2],
      );
      assert.equal(next['nextCursor'], null);

      // Roles and bad input.
      assert.equal((await call(c.app, null, 'GET', `/api/v1/clusters/${id}/attack-paths`)).status, 401);
      const bad = await call(c.app, c.tokens.reader, 'GET', `/api/v1/clusters/${id}/attack-paths?target=moon`);
      assert.equal(bad.status, 400);
      assert.match(bad.text, /querystring\.target/);
      assert.equal((await call(c.app, c.tokens.reader, 'GET', '/api/v1/clusters/nope/attack-paths')).status, 404);
      const snaps = await call(c.app, c.tokens.reader, 'GET', `/api/v1/clusters/${id}/snapshots`);
      assert.equal(items(snaps.json)[0]?.['attackPaths'], 2);

      // Deleting the cluster deletes its paths.
      assert.equal((await call(c.app, c.tokens.admin, 'DELETE', `/api/v1/clusters/${id}`)).status, 204);
      assert.equal((await c.db.raw('SELECT id FROM cluster_attack_paths')).length, 0);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: without scan data a path has no vulnerability step; a scan landed later counts from the next snapshot`, async () => {
    const c = await setup();
    try {
      const id = await register(c);
      const conn = connector(c);
      await conn.snapshotCluster(id);
      const before = items(await paths(c, id))[0] as Json;
      assert.deepEqual(
        steps(before).map((s) => s['kind']),
        ['entry', 'workload', 'privilege', 'target'],
      );
      assert.doesNotMatch(String(before['explanation']), /vulnerabilit/);
      // Nothing known of the image: exploitability 0.5, not "clean" (0.3).
      assert.equal((before['factors'] as Json)['exploitability'], 0.5);
      assert.equal(before['score'], 45);

      // The scan worker lands a report for the running digest: the stored paths stand until the next snapshot.
      await scanned(c.storage, NGINX_DIGEST, NGINX_VULNS);
      assert.deepEqual(items(await paths(c, id))[0], before);
      c.clock.advance(900_000);
      await conn.snapshotCluster(id);
      const afterScan = items(await paths(c, id))[0] as Json;
      assert.deepEqual(
        steps(afterScan).map((s) => s['kind']),
        ['entry', 'workload', 'image', 'privilege', 'target'],
      );
      assert.equal(afterScan['score'], 90);
      assert.notEqual(afterScan['id'], before['id'], 'another chain of steps, another id');

      // An image scanned clean is known: exploitability 0.3 and still no image step.
      await scanned(c.storage, NGINX_DIGEST, [], '2026-11-02T00:00:00.000Z');
      c.clock.advance(900_000);
      await conn.snapshotCluster(id);
      // 27 now: below the DaemonSet's path (unknown image, 32), so asked for by namespace.
      const clean = items(await paths(c, id, '?namespace=shop'))[0] as Json;
      assert.ok(!steps(clean).some((s) => s['kind'] === 'image'));
      assert.equal((clean['factors'] as Json)['exploitability'], 0.3);
      assert.equal(clean['score'], 27);
      assert.equal(clean['rank'], 2);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: an unscanned running digest falls back to the newest scan of the same tag`, async () => {
    const c = await setup();
    try {
      // Two builds filed under quay.io/prometheus/node-exporter:v1.8.2; neither is what the pod runs.
      const repo = { registry: 'quay.io', repository: 'prometheus/node-exporter', tags: ['v1.8.2'] };
      await c.storage.images.upsert({ ...repo, digest: EXPORTER_OLDER, pushedAt: '2026-10-01T00:00:00.000Z' });
      await c.storage.images.upsert({ ...repo, digest: EXPORTER_TAGGED, pushedAt: '2026-10-20T00:00:00.000Z' });
      await scanned(c.storage, EXPORTER_OLDER, [vuln('CVE-2099-0100', 'critical'), vuln('CVE-2099-0101', 'critical')]);
      await scanned(c.storage, EXPORTER_TAGGED, [vuln('CVE-2099-0200', 'high', { fixedVersions: ['2'] })]);
      const id = await register(c);
      await connector(c).snapshotCluster(id);
      const exporter = items(await paths(c, id, '?namespace=monitoring'))[0] as Json;
      const image = steps(exporter).find((s) => s['kind'] === 'image') as Json;
      assert.ok(image, JSON.stringify(exporter));
      assert.equal(image['vulnerabilitySource'], 'reference');
      assert.equal(image['digest'], EXPORTER_TAGGED);
      assert.deepEqual(image['vulnerabilityIds'], ['CVE-2099-0200']);
      assert.match(
        String(exporter['explanation']),
        /runs image quay\.io\/prometheus\/node-exporter:v1\.8\.2 with 1 high vulnerability/,
      );

      // Once the digest the pod runs is scanned, it stands for the image, not the tag's newest build.
      const pod = objectNamed(c.fake.objects, 'Pod', 'node-exporter-9tq7z');
      const statuses = (pod['status'] as Json)['containerStatuses'] as Json[];
      const running = String(statuses[0]?.['imageID']).replace(/^.*@/, '');
      await scanned(c.storage, running, [vuln('CVE-2099-0300', 'critical', { kev: true })]);
      c.clock.advance(900_000);
      await connector(c).snapshotCluster(id);
      const now = items(await paths(c, id, '?namespace=monitoring'))[0] as Json;
      const img = steps(now).find((s) => s['kind'] === 'image') as Json;
      assert.equal(img['vulnerabilitySource'], 'digest');
      assert.equal(img['digest'], running);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: the same cluster and scan results give the same paths, whatever the list order`, async () => {
    const c = await setup();
    try {
      await scanned(c.storage, NGINX_DIGEST, NGINX_VULNS);
      const id = await register(c);
      const conn = connector(c);
      await conn.snapshotCluster(id);
      const strip = (j: Json): Json[] => items(j).map(({ snapshotId: _s, ...rest }) => rest);
      const first = strip(await paths(c, id));
      c.fake.objects = [...c.fake.objects].reverse();
      c.clock.advance(900_000);
      await conn.snapshotCluster(id);
      assert.deepEqual(strip(await paths(c, id)), first);
      // The ids are posture's: the same chain of steps hashes to the same id anywhere.
      const direct = attackPathsOfObjects(c.fake.objects, {
        imageVulnerabilities: (ref, digest) =>
          ref === 'nginx:1.27' && digest === undefined
            ? { critical: 2, high: 1, kev: 1, fixable: 2, epss: 0.9 }
            : undefined,
      });
      assert.deepEqual(
        direct.map((p) => [p.id, p.rank, p.score, p.explanation]),
        first.map((p) => [p['id'], p['rank'], p['score'], p['explanation']]),
      );
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: exec credential plugins are refused unless the server allows them`, async () => {
    const c = await setup();
    const t = tempDir('palisade-exec-');
    try {
      const marker = join(t.path, 'plugin-ran');
      const credential = JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { token: FIXTURE_TOKEN },
      });
      const kubeconfig = JSON.parse(c.fake.kubeconfig()) as Json;
      kubeconfig['users'] = [
        {
          name: 'reader',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: '/bin/sh',
              args: ['-c', `touch '${marker}'; printf '%s' '${credential}'`],
              interactiveMode: 'Never',
            },
          },
        },
      ];
      const text = JSON.stringify(kubeconfig);

      const refused = await call(c.app, c.tokens.admin, 'POST', '/api/v1/clusters', { name: 'eks', kubeconfig: text });
      assert.equal(refused.status, 400, refused.text);
      const message = String((refused.json['error'] as Json)['message']);
      assert.match(message, /^body\.kubeconfig: users\[reader\]\.user\.exec: exec credential plugins are disabled/);
      assert.match(message, /"\/bin\/sh"/);
      assert.match(
        message,
        /clusters\.allowExecPlugins: true .*PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS=true.*--allow-exec-plugins/,
      );
      assert.ok(!message.includes('touch'), 'the plugin arguments are never echoed');
      assert.equal((await c.storage.clusters.list()).length, 0);

      // A server that allows them registers it (and uses its default interval).
      const allowing = await appOn(c.storage, { allowExecPlugins: true, defaultIntervalSeconds: 300 });
      try {
        const ok = await call(allowing, c.tokens.admin, 'POST', '/api/v1/clusters', { name: 'eks', kubeconfig: text });
        assert.equal(ok.status, 201, ok.text);
        assert.equal((ok.json['cluster'] as Json)['intervalSeconds'], 300);
      } finally {
        await allowing.close();
      }
      const id = String((await c.storage.clusters.getByName('eks'))?.id);

      // Stored, but this replica does not allow them: refused at snapshot time, nothing run.
      const out = await connector(c).snapshotCluster(id);
      assert.equal(out.status, 'exec_disabled');
      assert.equal(out.snapshot, null);
      assert.equal(existsSync(marker), false, 'the plugin did not run');
      const shown = await call(c.app, c.tokens.reader, 'GET', `/api/v1/clusters/${id}`);
      assert.equal(shown.json['status'], 'exec_disabled');
      assert.equal(shown.json['lastErrorCode'], 'exec_disabled');
      assert.match(
        String(shown.json['lastError']),
        /^kubeconfig: users\[reader\]\.user\.exec: exec credential plugins are disabled/,
      );
      assert.equal((await c.storage.clusters.listSnapshots(id)).total, 0);

      // Allowed: the plugin runs on this host and its token reads the cluster.
      c.clock.advance(900_000);
      const allowed = await connector(c, { allowExecPlugins: true }).snapshotCluster(id);
      assert.equal(allowed.status, 'ok', String(allowed.error));
      assert.equal(existsSync(marker), true);
    } finally {
      t.cleanup();
      await teardown(c);
    }
  });
});
