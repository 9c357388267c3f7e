/**
 * Cluster-level container context on both backends: an inventory batch with container records,
 * then collector batches whose events carry only a container id (or a partial context) → the
 * alerts in GET /api/v1/alerts have namespace, pod, workload and image, the namespace filter and
 * the grouping find them; what a node resolved itself is never overwritten; records are per
 * cluster, validated strictly, kept bounded and pruned by the runtime retention; through NATS
 * JetStream too (a large inventory batch split into parts, context filled by the consumer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import type { KubeContainerRecord, RuntimeEvent } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { createRuntimePipeline } from '../../src/runtime/pipeline.js';
import { pruneRuntimeData } from '../../src/runtime/retention.js';
import { fillContainerContext } from '../../src/runtime/container-context.js';
import { storeContainers } from '../../src/storage/kube-containers.js';
import { openStorage } from '../../src/storage/index.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { openSqlite } from '../../src/storage/sqlite.js';
import type { Database } from '../../src/storage/sql.js';
import { forEachBackend, PG_URL, TestClock, type TestDb } from '../storage/harness.js';
import { auth, batch, builtinEngine, fixtureEvent, nodeAlerts, runtimeApp } from './helpers.js';

interface ErrorReply {
  error: { code: string; message: string };
}
interface AlertItem {
  id: string;
  ruleId: string;
  namespace: string | null;
  pod: string | null;
  workloadKind: string | null;
  workloadName: string | null;
  containerId: string | null;
  containerName: string | null;
  image: string | null;
  imageDigest: string | null;
  groupId: string;
}

const hex = (c: string): string => c.repeat(64);
const WEB = hex('a');
const GONE = hex('b');
const PARTIAL = hex('c');
const OTHER = hex('d');
const DIGEST = `sha256:${hex('1')}`;

function record(over: Partial<KubeContainerRecord> & { containerId: string }): KubeContainerRecord {
  return {
    containerName: 'nginx',
    pod: 'web-7c9d5b8f6d-2xkqp',
    namespace: 'shop',
    node: 'node-a',
    workloadKind: 'Deployment',
    workloadName: 'web',
    serviceAccount: 'web',
    image: 'docker.io/library/nginx:1.27',
    imageDigest: DIGEST,
    podUid: 'c2e4a6c8-0e2a-4c6e-8a0c-2e4a6c8e0a12',
    startedAt: '2026-03-01T09:00:00Z',
    ...over,
  };
}

/** fx-003 (a reverse shell) as a node with no API access saw it: a container id, nothing else. */
function bareShell(id: string, containerId: string, k8s?: RuntimeEvent['k8s']): RuntimeEvent {
  const ev = { ...fixtureEvent('fx-003'), id };
  delete ev.k8s;
  ev.container = { id: containerId, name: '', image: '', imageDigest: '', runtime: 'containerd', resolved: false };
  if (k8s) ev.k8s = k8s;
  return ev;
}

/** A Database on the same storage as `db` (for the repository functions that take an executor). */
function executorOf(db: TestDb): Database {
  if (db.backend === 'sqlite') return openSqlite({ path: join(db.dir as string, 'palisade.sqlite') });
  return openPostgres({ connectionString: PG_URL, schema: db.schema, max: 1 });
}

forEachBackend((h) => {
  test('an inventory batch, then collector alerts with only a container id → alerts with namespace, pod, workload and image', async () => {
    const db = await h.fresh();
    const clock = new TestClock('2026-03-01T10:06:00.000Z');
    const storage = await db.open({ clock });
    const t = await runtimeApp(storage, { clock, rateLimit: null });
    try {
      const post = (token: string, body: object): Promise<{ statusCode: number; body: string }> =>
        t.app.inject({ method: 'POST', url: '/api/v1/ingest/runtime', headers: auth(token), payload: body });
      const inv = await post(
        t.ingest.prod,
        batch({
          batchId: 'inv-1',
          source: 'inventory',
          node: 'palisade-inventory-7f9c',
          containers: [
            record({ containerId: WEB }),
            record({ containerId: GONE, pod: 'web-7c9d5b8f6d-h8w4m', deleted: true }),
            // The node knows pod and namespace (containerd's state files) but not the workload.
            record({
              containerId: PARTIAL,
              pod: 'db-0',
              workloadKind: 'StatefulSet',
              workloadName: 'db',
              serviceAccount: 'db',
            }),
            record({ containerId: OTHER, pod: 'inventory-says', namespace: 'shop' }),
          ],
        }),
      );
      assert.equal(inv.statusCode, 200, inv.body);

      const events = [
        bareShell('e-web', WEB),
        bareShell('e-partial', PARTIAL, { pod: 'db-0', namespace: 'shop' }),
        bareShell('e-other', OTHER, {
          pod: 'node-says',
          namespace: 'ops',
          workloadKind: 'DaemonSet',
          workloadName: 'agent',
          serviceAccount: 'agent',
        }),
        bareShell('e-gone', GONE),
        bareShell('e-unknown', hex('e')),
      ];
      const col = await post(
        t.ingest.prod,
        batch({ batchId: 'node-a-1', alerts: nodeAlerts(events), events: events.slice(0, 1) }),
      );
      assert.equal(col.statusCode, 200, col.body);
      assert.equal(t.pipeline.stats().contextFilled, 5, 'four alerts’ events and one forwarded event got context');

      const list = await t.app.inject({ method: 'GET', url: '/api/v1/alerts?limit=50', headers: auth(t.reader) });
      assert.equal(list.statusCode, 200, list.body);
      const items = list.json<{ items: AlertItem[] }>().items;
      const of = (id: string): AlertItem => {
        const a = items.find((x) => x.containerId === id);
        assert.ok(a, `an alert on container ${id.slice(0, 4)}`);
        return a;
      };
      const cols = (a: AlertItem): unknown[] => [
        a.namespace,
        a.pod,
        a.workloadKind,
        a.workloadName,
        a.containerName,
        a.image,
        a.imageDigest,
      ];
      assert.deepEqual(cols(of(WEB)), [
        'shop',
        'web-7c9d5b8f6d-2xkqp',
        'Deployment',
        'web',
        'nginx',
        'docker.io/library/nginx:1.27',
        DIGEST,
      ]);
      assert.deepEqual(cols(of(PARTIAL)), [
        'shop',
        'db-0',
        'StatefulSet',
        'db',
        'nginx',
        'docker.io/library/nginx:1.27',
        DIGEST,
      ]);
      // The node named another pod: its context stands; only the empty container fields are filled.
      assert.deepEqual(cols(of(OTHER)), [
        'ops',
        'node-says',
        'DaemonSet',
        'agent',
        'nginx',
        'docker.io/library/nginx:1.27',
        DIGEST,
      ]);
      // A deleted container's record still serves late alerts.
      assert.deepEqual(cols(of(GONE)).slice(0, 2), ['shop', 'web-7c9d5b8f6d-h8w4m']);
      // Not known to the inventory: as the node sent it.
      assert.deepEqual(cols(of(hex('e'))), [null, null, null, null, '', '', '']);

      // The namespace filter and the grouping see the filled context.
      const shop = await t.app.inject({ method: 'GET', url: '/api/v1/alerts?namespace=shop', headers: auth(t.reader) });
      assert.deepEqual(
        shop
          .json<{ items: AlertItem[] }>()
          .items.map((a) => a.containerId)
          .sort(),
        [WEB, GONE, PARTIAL].sort(),
      );
      const groups = await t.app.inject({
        method: 'GET',
        url: '/api/v1/alert-groups?namespace=shop',
        headers: auth(t.reader),
      });
      const keys = groups.json<{ items: Array<{ workloadKey: string }> }>().items.map((g) => g.workloadKey);
      assert.ok(keys.includes('k8s:shop/Deployment/web'), keys.join(', '));
      assert.ok(keys.includes('k8s:shop/StatefulSet/db'), keys.join(', '));

      // The stored events carry the context; what the node sent stays (resolved: false).
      const detail = await t.app.inject({
        method: 'GET',
        url: `/api/v1/alerts/${of(WEB).id}`,
        headers: auth(t.reader),
      });
      const ev = detail.json<{ events: RuntimeEvent[] }>().events[0];
      assert.deepEqual(ev?.k8s, {
        pod: 'web-7c9d5b8f6d-2xkqp',
        namespace: 'shop',
        workloadKind: 'Deployment',
        workloadName: 'web',
        serviceAccount: 'web',
      });
      assert.equal(ev?.container?.resolved, false);
      assert.equal(ev?.container?.imageDigest, DIGEST);

      // Records are the cluster's own: the same container id in dev gets nothing.
      const dev = await post(t.ingest.dev, batch({ batchId: 'dev-1', alerts: nodeAlerts([bareShell('e-dev', WEB)]) }));
      assert.equal(dev.statusCode, 200, dev.body);
      const devAlerts = await t.app.inject({
        method: 'GET',
        url: `/api/v1/alerts?clusterId=${t.clusters.dev}`,
        headers: auth(t.reader),
      });
      assert.deepEqual(
        devAlerts.json<{ items: AlertItem[] }>().items.map((a) => a.namespace),
        [null],
      );

      // The records through the API; deleted ones only when asked; a deletion sticks.
      const again = await post(
        t.ingest.prod,
        batch({
          batchId: 'inv-2',
          source: 'inventory',
          node: 'palisade-inventory-7f9c',
          containers: [record({ containerId: GONE })],
        }),
      );
      assert.equal(again.statusCode, 200, again.body);
      const listed = await t.app.inject({
        method: 'GET',
        url: `/api/v1/runtime/containers?clusterId=${t.clusters.prod}`,
        headers: auth(t.reader),
      });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(
        listed
          .json<{ items: Array<{ containerId: string }> }>()
          .items.map((c) => c.containerId)
          .sort(),
        [WEB, PARTIAL, OTHER].sort(),
      );
      const withDeleted = await t.app.inject({
        method: 'GET',
        url: `/api/v1/runtime/containers?clusterId=${t.clusters.prod}&includeDeleted=true&namespace=shop&containerId=${GONE}`,
        headers: auth(t.reader),
      });
      const gone = withDeleted.json<{ items: Array<Record<string, unknown>> }>().items;
      assert.equal(gone.length, 1);
      assert.equal(gone[0]?.['deleted'], true);
      assert.equal(gone[0]?.['startedAt'], '2026-03-01T09:00:00.000Z');
      assert.equal(gone[0]?.['deletedAt'], '2026-03-01T10:06:00.000Z');
      const anon = await t.app.inject({
        method: 'GET',
        url: `/api/v1/runtime/containers?clusterId=${t.clusters.prod}`,
      });
      assert.equal(anon.statusCode, 401);
    } finally {
      await t.close();
    }
  });

  test('container records are validated strictly: scheme, NUL, lengths, workload pair, source, item count', async () => {
    const db = await h.fresh();
    const storage = await db.open();
    const t = await runtimeApp(storage, { clock: new TestClock('2026-03-01T10:06:00.000Z'), rateLimit: null });
    try {
      const inventory = (containers: unknown[], over: Record<string, unknown> = {}): object => ({
        ...batch({ batchId: `bad-${Math.random().toString(36).slice(2)}`, source: 'inventory', node: 'inv' }),
        containers,
        ...over,
      });
      const cases: Array<[object, number, RegExp]> = [
        [
          inventory([record({ containerId: `containerd://${WEB}` })]),
          400,
          /^body\.containers\[0\]\.containerId: must match/,
        ],
        [
          inventory([record({ containerId: WEB, pod: 'web\u0000x' })]),
          400,
          /^body\.containers\[0\]\.pod: must not contain NUL/,
        ],
        [
          inventory([record({ containerId: WEB, namespace: 'n'.repeat(254) })]),
          400,
          /^body\.containers\[0\]\.namespace: must be at most 253/,
        ],
        [
          inventory([record({ containerId: WEB, workloadName: '' })]),
          400,
          /^body\.containers\[0\]\.workloadName: workloadKind and workloadName/,
        ],
        [
          inventory([{ ...record({ containerId: WEB }), deleted: false }]),
          400,
          /^body\.containers\[0\]\.deleted: must be true/,
        ],
        [
          inventory([{ ...record({ containerId: WEB }), labels: {} }]),
          400,
          /^body\.containers\[0\]\.labels: unknown field/,
        ],
        [
          inventory([record({ containerId: WEB, startedAt: 'yesterday' })]),
          400,
          /^body\.containers\[0\]\.startedAt: must be an RFC 3339/,
        ],
        [
          inventory([record({ containerId: WEB })], { source: 'collector' }),
          400,
          /^body\.containers: only inventory batches/,
        ],
        [
          inventory(Array.from({ length: 5001 }, (_, i) => record({ containerId: `c${i}` }))),
          413,
          /5001 items \(alerts \+ events \+ kubeEvents \+ containers\)/,
        ],
      ];
      for (const [body, status, message] of cases) {
        const r = await t.app.inject({
          method: 'POST',
          url: '/api/v1/ingest/runtime',
          headers: auth(t.ingest.prod),
          payload: body,
        });
        assert.equal(r.statusCode, status, r.body);
        assert.match(r.json<ErrorReply>().error.message, message);
      }
      assert.deepEqual(await storage.alerts.containers({ clusterId: t.clusters.prod, includeDeleted: true }), []);
    } finally {
      await t.close();
    }
  });

  test('container records: one lookup per batch, bounded per cluster, pruned when deleted or stale, removed with the cluster', async () => {
    const db = await h.fresh();
    const clock = new TestClock('2026-03-01T10:00:00.000Z');
    const storage = await db.open({ clock });
    const prod = (await storage.clusters.create({ name: 'prod' })).cluster.id;
    const ingest = (batchId: string, containers: KubeContainerRecord[]): Promise<unknown> =>
      storage.alerts.ingest({
        clusterId: prod,
        batch: batch({ batchId, source: 'inventory', node: 'inv', containers }),
      });
    // A change then the deletion in one batch: the last record wins.
    await ingest('b1', [
      record({ containerId: WEB }),
      record({ containerId: GONE }),
      record({ containerId: GONE, image: 'changed:1', deleted: true }),
    ]);
    clock.advance(2 * 3_600_000);
    await ingest('b2', [record({ containerId: PARTIAL })]);

    // One query for every id of a batch (the source counts calls).
    let calls = 0;
    const counting = {
      containerContext: (c: string, ids: readonly string[]): ReturnType<typeof storage.alerts.containerContext> => {
        calls++;
        return storage.alerts.containerContext(c, ids);
      },
    };
    const evs = [bareShell('x1', WEB), bareShell('x2', GONE), bareShell('x3', PARTIAL), bareShell('x4', WEB)];
    const filled = await fillContainerContext(
      counting,
      prod,
      batch({ batchId: 'n', alerts: nodeAlerts(evs), events: evs }),
    );
    assert.equal(calls, 1);
    assert.equal(filled.lookedUp, 3);
    assert.equal(filled.filled, 8);
    const none = await fillContainerContext(counting, prod, batch({ batchId: 'm', events: [fixtureEvent('fx-001')] }));
    assert.equal(calls, 1, 'events with full context cost no query');
    assert.equal(none.lookedUp, 0);
    const gone = (await storage.alerts.containerContext(prod, [GONE])).get(GONE);
    assert.deepEqual([gone?.image, gone?.deleted, gone?.deletedAt], ['changed:1', true, '2026-03-01T10:00:00.000Z']);

    // Retention: a day later the deleted record goes; WEB (last seen 26 h ago) is stale; PARTIAL stays.
    clock.advance(24 * 3_600_000);
    const pruned = await pruneRuntimeData(storage, clock.now());
    assert.equal(pruned.containers, 2);
    assert.deepEqual(
      (await storage.alerts.containers({ clusterId: prod, includeDeleted: true })).map((c) => c.containerId),
      [PARTIAL],
    );

    // Bounded per cluster: the least recently reported go first.
    const ex = executorOf(db);
    try {
      const many = Array.from({ length: 5 }, (_, i) => record({ containerId: `k${i}` }));
      for (const [i, r] of many.entries())
        await storeContainers(ex, prod, [r], new Date(Date.parse('2026-03-03T00:00:00Z') + i * 1000).toISOString(), 3);
      const kept = await storage.alerts.containers({ clusterId: prod, includeDeleted: true });
      assert.deepEqual(
        kept.map((c) => c.containerId),
        ['k4', 'k3', 'k2'],
      );
    } finally {
      await ex.close();
    }

    // Deleting the cluster deletes its records.
    await storage.alerts.deleteCluster(prod);
    assert.equal(Number((await db.raw('SELECT COUNT(*) AS n FROM kube_containers'))[0]?.['n']), 0);
  });
});

const NATS_URL = process.env['NATS_TEST_URL'] ?? 'nats://127.0.0.1:4222';

test('through NATS JetStream: an inventory batch over max_payload travels in parts, and the consumer fills in context', async () => {
  const tag = randomBytes(5).toString('hex');
  const names = {
    url: NATS_URL,
    stream: `PALISADE_RUNTIME_TEST_${tag}`,
    subject: `palisade.test.${tag}.batches`,
    durable: 'palisade-detect-store',
    name: `palisade-test-${tag}`,
    maxBytes: 256 * 1024 * 1024,
  };
  const dir = tempDir('palisade-rt-containers-');
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 7) });
  const pipeline = createRuntimePipeline({ storage, engine: builtinEngine(), clock: new TestClock(), nats: names });
  try {
    await pipeline.start();
    const transport = pipeline.transport();
    assert.ok(transport);
    const cluster = { clusterId: (await storage.clusters.create({ name: 'big' })).cluster.id, clusterName: 'big' };
    // Incompressible image names: the batch is about twice max_payload gzipped.
    const n = Math.ceil((transport.maxPayload * 2) / 520);
    const containers = Array.from({ length: n }, (_, i) =>
      record({
        containerId: i === 0 ? WEB : `c${i}`,
        image: i === 0 ? 'nginx:1' : randomBytes(520).toString('base64'),
      }),
    );
    const out = await pipeline.submit(
      cluster,
      batch({ batchId: 'inv-big', source: 'inventory', node: 'inv', containers }),
    );
    assert.equal(out.accepted, true);
    const deadline = Date.now() + 60_000;
    const count = async (): Promise<number> =>
      (await storage.alerts.containers({ clusterId: cluster.clusterId, limit: 500 })).length;
    while ((await storage.alerts.containerContext(cluster.clusterId, [`c${n - 1}`, WEB])).size < 2) {
      assert.ok(Date.now() < deadline, 'every part stored');
      await sleep(50);
    }
    assert.equal(await count(), 500, 'the API pages at 500');
    const ev = bareShell('nats-1', WEB);
    await pipeline.submit(cluster, batch({ batchId: 'node-1', alerts: nodeAlerts([ev]) }));
    let alert;
    while ((alert = (await storage.alerts.list({ clusterId: cluster.clusterId })).items[0]) === undefined) {
      assert.ok(Date.now() < deadline, 'the alert stored');
      await sleep(50);
    }
    assert.deepEqual(
      [alert.namespace, alert.pod, alert.workloadName, alert.image],
      ['shop', 'web-7c9d5b8f6d-2xkqp', 'web', 'nginx:1'],
    );
  } finally {
    await pipeline.close();
    await storage.close();
    dir.cleanup();
    const nc = await connect({ servers: NATS_URL });
    try {
      await (await nc.jetstreamManager()).streams.delete(names.stream).catch(() => undefined);
    } finally {
      await nc.close();
    }
  }
});
