/**
 * The cluster connector end to end, on both storage backends, against a recorded cluster
 * served over HTTPS: registration through the API, snapshots (paged), inventory, changes,
 * posture findings, an API server dying mid-snapshot, an expired credential, the sealed
 * kubeconfig, ingest tokens, bad input, pruning, and the scheduler task.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { clusterSnapshotTask, createClusterConnector, type ClusterConnector } from '../../src/clusters/index.js';
import { createScheduler } from '../../src/scheduler/index.js';
import type { Storage } from '../../src/storage/index.js';
import { forEachBackend, TestClock, type TestDb } from '../storage/harness.js';
import { bearer, testApp, type TestApp } from '../http/helpers.js';
import { cleanupCertificates, FIXTURE_TOKEN, objectNamed, startFakeCluster, type FakeCluster } from './fake-cluster.js';

after(() => cleanupCertificates());

type Json = Record<string, unknown>;

interface Ctx {
  db: TestDb;
  storage: Storage;
  api: TestApp;
  app: FastifyInstance;
  fake: FakeCluster;
  clock: TestClock;
  connector: ClusterConnector;
}

async function call(
  c: Ctx,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  body?: unknown,
  token = c.api.tokens.admin,
): Promise<{ status: number; json: Json; text: string }> {
  const res = await c.app.inject({
    method,
    url,
    headers: bearer(token),
    ...(body !== undefined ? { payload: body as Json } : {}),
  });
  return { status: res.statusCode, json: res.body === '' ? {} : res.json<Json>(), text: res.body };
}

async function register(c: Ctx, name = 'kind-test', extra: Json = {}): Promise<{ id: string; token: string }> {
  const r = await call(c, 'POST', '/api/v1/clusters', { name, kubeconfig: c.fake.kubeconfig(), ...extra });
  assert.equal(r.status, 201, r.text);
  const cluster = r.json['cluster'] as Json;
  return { id: String(cluster['id']), token: String(r.json['ingestToken']) };
}

function items(j: Json): Json[] {
  return j['items'] as Json[];
}

forEachBackend((h) => {
  const setup = async (keep?: number, start = '2026-11-06T10:00:00.000Z'): Promise<Ctx> => {
    const db = await h.fresh();
    const clock = new TestClock(start);
    const storage = await db.open({ clock });
    const api = await testApp(storage);
    const fake = await startFakeCluster();
    const connector = createClusterConnector({
      storage,
      clock,
      // Two objects a page: every list is paged.
      pageSize: 2,
      requestTimeoutMs: 1500,
      ...(keep !== undefined ? { keepSnapshots: keep } : {}),
    });
    return { db, storage, api, app: api.app, fake, clock, connector };
  };
  const teardown = async (c: Ctx): Promise<void> => {
    await c.app.close();
    await c.fake.close();
  };

  test(`${h.backend}: register, snapshot, inventory and findings`, async () => {
    const c = await setup();
    try {
      const { id } = await register(c);
      const pending = await call(c, 'GET', `/api/v1/clusters/${id}`, undefined, c.api.tokens.reader);
      assert.equal(pending.json['status'], 'pending');
      assert.equal(pending.json['context'], 'kind-test');

      const out = await c.connector.snapshotCluster(id);
      assert.equal(out.status, 'ok', String(out.error));
      assert.equal(out.snapshot?.complete, true);
      // Every kind listed page by page; secrets never asked for.
      assert.ok(c.fake.log.some((p) => p.startsWith('/api/v1/pods?limit=2&continue=')));
      assert.ok(!c.fake.log.some((p) => p.includes('secrets') || p.includes('configmaps')));

      const inv = await call(c, 'GET', `/api/v1/clusters/${id}/inventory`, undefined, c.api.tokens.reader);
      assert.equal(inv.status, 200, inv.text);
      const counts = inv.json['counts'] as Record<string, number>;
      assert.equal(counts['Pod'], 5);
      assert.equal(counts['Namespace'], 4);
      assert.equal(counts['ValidatingWebhookConfiguration'], 1);
      assert.equal(counts['Secret'], undefined);
      assert.equal((inv.json['snapshot'] as Json)['id'], out.snapshot?.id);
      const objects = inv.json['objects'] as Json;
      assert.equal(objects['total'], 29);

      const pods = await call(c, 'GET', `/api/v1/clusters/${id}/inventory?kind=Pod&namespace=shop&limit=2`);
      assert.equal((pods.json['objects'] as Json)['total'], 3);
      const page1 = items(pods.json['objects'] as Json);
      assert.equal(page1.length, 2);
      const cursor = (pods.json['objects'] as Json)['nextCursor'];
      assert.equal(typeof cursor, 'string');
      const next = await call(
        c,
        'GET',
        `/api/v1/clusters/${id}/inventory?kind=Pod&namespace=shop&limit=2&cursor=${String(cursor)}`,
      );
      const page2 = items(next.json['objects'] as Json);
      assert.deepEqual(
        [...page1, ...page2].map((p) => p['name']),
        ['debug', 'web-7c9d5b8f6d-2xkqp', 'web-7c9d5b8f6d-h8w4m'],
      );
      const web = page1.find((p) => p['name'] === 'web-7c9d5b8f6d-2xkqp') as Json;
      const containers = (web['summary'] as Json)['containers'] as Json[];
      assert.equal(containers[0]?.['image'], 'nginx:1.27');
      assert.equal(
        containers[0]?.['imageDigest'],
        'sha256:28402db69fec7c17e179ea87882667f1e054391138f77ffaf0c3eb388efc3ffb',
      );
      // No secret value anywhere in what the API answers or what is stored.
      assert.ok(!inv.text.includes('hunter2') && !pods.text.includes('hunter2') && !next.text.includes('hunter2'));
      const bodies = await c.db.raw('SELECT body FROM cluster_objects');
      assert.equal(bodies.length, 29);
      for (const b of bodies)
        assert.ok(
          !gunzipSync(Buffer.from(String(b['body']), 'base64'))
            .toString()
            .includes('hunter2'),
        );

      const findings = await call(
        c,
        'GET',
        `/api/v1/clusters/${id}/findings?limit=500`,
        undefined,
        c.api.tokens.reader,
      );
      assert.equal(findings.status, 200, findings.text);
      const list = items(findings.json);
      assert.ok(list.length > 5, `findings: ${list.length}`);
      assert.equal(findings.json['total'], out.snapshot?.findings);
      const order = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
      const ranks = list.map((f) => order.indexOf(String(f['severity'])));
      assert.deepEqual(
        ranks,
        [...ranks].sort((a, b) => a - b),
      );
      // Judged through the controller: the Deployment, not its ReplicaSet or pods.
      assert.ok(list.some((f) => f['kind'] === 'Deployment' && f['name'] === 'web'));
      assert.ok(!list.some((f) => f['kind'] === 'ReplicaSet' || String(f['name']).startsWith('web-7c9d5b8f6d')));
      assert.ok(list.some((f) => f['kind'] === 'Pod' && f['name'] === 'debug'));
      const high = await call(c, 'GET', `/api/v1/clusters/${id}/findings?severity=high,critical&namespace=shop`);
      assert.ok(
        items(high.json).every(
          (f) => ['high', 'critical'].includes(String(f['severity'])) && f['namespace'] === 'shop',
        ),
      );

      const shown = await call(c, 'GET', `/api/v1/clusters/${id}`);
      assert.equal(shown.json['status'], 'ok');
      assert.equal(shown.json['lastCompleteSnapshotId'], out.snapshot?.id);
      assert.equal(shown.json['lastError'], null);
      // The first snapshot has nothing to differ from.
      const changes = await call(c, 'GET', `/api/v1/clusters/${id}/changes`);
      assert.equal(changes.json['total'], 0);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: a second snapshot records what changed, not status churn`, async () => {
    const c = await setup();
    try {
      const { id } = await register(c);
      await c.connector.snapshotCluster(id);
      const objs = c.fake.objects;
      const deploy = objectNamed(objs, 'Deployment', 'web');
      const tpl = ((deploy['spec'] as Json)['template'] as Json)['spec'] as Json;
      (tpl['containers'] as Json[])[0]!['image'] = 'docker.io/library/nginx:1.28';
      (deploy['metadata'] as Json)['resourceVersion'] = '90001';
      // A pod whose status moved on (resourceVersion bumped): not a modification.
      const pod = objectNamed(objs, 'Pod', 'debug');
      (pod['metadata'] as Json)['resourceVersion'] = '90002';
      (pod['status'] as Json)['phase'] = 'Succeeded';
      // A removed Service and a new Namespace.
      c.fake.objects = objs.filter((o) => !(o['kind'] === 'Service' && (o['metadata'] as Json)['name'] === 'web'));
      c.fake.objects.push({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'payments', uid: 'b0b0b0b0-0000-4000-8000-000000000001', resourceVersion: '90003' },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      });
      c.clock.advance(900_000);
      const second = await c.connector.snapshotCluster(id);
      assert.equal(second.status, 'ok');
      assert.deepEqual(second.snapshot?.changes, { added: 1, removed: 1, modified: 1 });

      const r = await call(c, 'GET', `/api/v1/clusters/${id}/changes`, undefined, c.api.tokens.reader);
      assert.equal(r.status, 200, r.text);
      const rows = items(r.json).map((x) => [x['change'], x['kind'], x['namespace'], x['name'], x['summary']]);
      assert.deepEqual(
        rows.sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
        [
          ['modified', 'Deployment', 'shop', 'web', 'spec changed'],
          ['added', 'Namespace', null, 'payments', 'added'],
          ['removed', 'Service', 'shop', 'web', 'removed'],
        ],
      );
      const onlyAdded = await call(
        c,
        'GET',
        `/api/v1/clusters/${id}/changes?change=added&snapshot=${second.snapshot?.id}`,
      );
      assert.equal(onlyAdded.json['total'], 1);
      const since = await call(c, 'GET', `/api/v1/clusters/${id}/changes?since=2030-01-01T00:00:00Z`);
      assert.equal(since.json['total'], 0);
      const inv = await call(c, 'GET', `/api/v1/clusters/${id}/inventory?kind=Deployment`);
      const d = items(inv.json['objects'] as Json)[0] as Json;
      assert.equal(((d['summary'] as Json)['containers'] as Json[])[0]?.['image'], 'docker.io/library/nginx:1.28');
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: the API server dies mid-snapshot: stored incomplete, previous findings kept`, async () => {
    const c = await setup();
    try {
      const { id } = await register(c);
      const first = await c.connector.snapshotCluster(id);
      const before = await c.storage.clusters.findings(id, { limit: 500 });
      assert.ok(before.total > 0);
      // A change the incomplete snapshot must not land anywhere.
      c.fake.objects = c.fake.objects.filter((o) => o['kind'] !== 'Pod');
      c.fake.hang = 'deployments';
      c.clock.advance(900_000);
      const out = await c.connector.snapshotCluster(id);
      assert.equal(out.status, 'incomplete');
      assert.equal(out.snapshot?.complete, false);
      assert.equal(out.snapshot?.findings, null);
      assert.equal(out.snapshot?.changes, null);
      assert.match(String(out.error), /Deployment/);
      assert.ok((out.snapshot?.errors.length ?? 0) > 1, 'the kinds after the failure are named too');

      const after = await c.storage.clusters.findings(id, { limit: 500 });
      assert.deepEqual(
        after.items.map((f) => f.id),
        before.items.map((f) => f.id),
      );
      const shown = await call(c, 'GET', `/api/v1/clusters/${id}`, undefined, c.api.tokens.reader);
      assert.equal(shown.json['status'], 'incomplete');
      assert.equal(shown.json['lastErrorCode'], 'incomplete');
      assert.equal(shown.json['lastSnapshotId'], out.snapshot?.id);
      assert.equal(shown.json['lastCompleteSnapshotId'], first.snapshot?.id);
      const inv = await call(c, 'GET', `/api/v1/clusters/${id}/inventory`);
      assert.equal((inv.json['snapshot'] as Json)['id'], first.snapshot?.id);
      assert.equal((inv.json['counts'] as Json)['Pod'], 5);
      assert.equal((inv.json['cluster'] as Json)['status'], 'incomplete');
      const snaps = await call(c, 'GET', `/api/v1/clusters/${id}/snapshots`);
      assert.deepEqual(
        items(snaps.json).map((s) => s['complete']),
        [false, true],
      );

      // The server answers again: the next snapshot is complete and the status clears.
      c.fake.hang = null;
      c.clock.advance(900_000);
      const healed = await c.connector.snapshotCluster(id);
      assert.equal(healed.status, 'ok');
      assert.deepEqual(healed.snapshot?.changes, { added: 0, removed: 5, modified: 0 });
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: an expired token shows on the cluster`, async () => {
    const c = await setup();
    try {
      const { id } = await register(c);
      await c.connector.snapshotCluster(id);
      c.fake.tokens.delete(FIXTURE_TOKEN);
      c.clock.advance(900_000);
      const out = await c.connector.snapshotCluster(id);
      assert.equal(out.status, 'auth_expired');
      assert.equal(out.snapshot, null);
      const shown = await call(c, 'GET', `/api/v1/clusters/${id}`, undefined, c.api.tokens.reader);
      assert.equal(shown.json['status'], 'auth_expired');
      assert.match(String(shown.json['lastError']), /HTTP 401/);
      assert.ok(!String(shown.json['lastError']).includes(FIXTURE_TOKEN));
      assert.equal(shown.json['lastAttemptAt'], c.clock.now().toISOString());
      // Nothing stored for an attempt that read nothing; the last inventory stands.
      const snaps = await c.storage.clusters.listSnapshots(id);
      assert.equal(snaps.total, 1);

      // Unreachable: the server is gone.
      await c.fake.close();
      c.clock.advance(900_000);
      const gone = await c.connector.snapshotCluster(id);
      assert.equal(gone.status, 'unreachable');
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: the kubeconfig is sealed at rest and never returned`, async () => {
    const c = await setup();
    try {
      const created = await call(c, 'POST', '/api/v1/clusters', { name: 'sealed', kubeconfig: c.fake.kubeconfig() });
      const id = String((created.json['cluster'] as Json)['id']);
      for (const r of [
        created,
        await call(c, 'GET', `/api/v1/clusters/${id}`),
        await call(c, 'GET', '/api/v1/clusters'),
      ]) {
        assert.ok(!r.text.includes(FIXTURE_TOKEN), 'no token in the response');
        assert.ok(!r.text.includes('certificate-authority'), 'no kubeconfig in the response');
        assert.ok(!r.text.includes('"kubeconfig"'));
      }
      assert.equal((created.json['cluster'] as Json)['hasKubeconfig'], true);
      const rows = await c.db.raw('SELECT * FROM clusters');
      assert.equal(rows.length, 1);
      const raw = JSON.stringify(rows[0]);
      assert.ok(!raw.includes(FIXTURE_TOKEN) && !raw.includes('certificate-authority') && !raw.includes(c.fake.url));
      assert.match(String(rows[0]?.['kubeconfig']), /^v1\./);
      assert.equal(await c.storage.clusters.kubeconfig(id), c.fake.kubeconfig());
      // Sealed to this cluster: copied onto another row it does not open.
      const other = await c.storage.clusters.create({ name: 'other', kubeconfig: 'x', context: 'x' });
      await c.db.raw(
        `UPDATE clusters SET kubeconfig = (SELECT kubeconfig FROM clusters WHERE name = 'sealed') WHERE name = 'other'`,
      );
      await assert.rejects(c.storage.clusters.kubeconfig(other.cluster.id), /failed authentication/);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: ingest tokens verify, have ingest scope only, and rotate`, async () => {
    const c = await setup();
    try {
      const { id, token } = await register(c);
      assert.match(token, /^pal_in_/);
      assert.equal((await c.storage.clusters.verifyIngestToken(token))?.id, id);
      assert.equal(await c.storage.clusters.verifyIngestToken(`${token}x`), null);
      assert.equal(await c.storage.clusters.verifyIngestToken('not-a-token'), null);
      // Not an API token.
      const asApi = await call(c, 'GET', '/api/v1/clusters', undefined, token);
      assert.equal(asApi.status, 401);
      const rows = await c.db.raw('SELECT ingest_token_hash FROM clusters');
      assert.ok(!JSON.stringify(rows).includes(token));

      const reader = await call(c, 'POST', `/api/v1/clusters/${id}/ingest-token`, undefined, c.api.tokens.reader);
      assert.equal(reader.status, 403);
      const rotated = await call(c, 'POST', `/api/v1/clusters/${id}/ingest-token`);
      assert.equal(rotated.status, 200, rotated.text);
      const fresh = String(rotated.json['ingestToken']);
      assert.notEqual(fresh, token);
      assert.equal(await c.storage.clusters.verifyIngestToken(token), null);
      assert.equal((await c.storage.clusters.verifyIngestToken(fresh))?.id, id);
      assert.equal((rotated.json['cluster'] as Json)['ingestTokenPrefix'], fresh.slice(0, 13));
      const missing = await call(c, 'POST', '/api/v1/clusters/00000000-0000-4000-8000-000000000000/ingest-token');
      assert.equal(missing.status, 404);

      // An agent-only cluster: a token, no kubeconfig, never snapshotted.
      const agent = await call(c, 'POST', '/api/v1/clusters', { name: 'edge' });
      assert.equal(agent.status, 201, agent.text);
      const agentId = String((agent.json['cluster'] as Json)['id']);
      assert.equal((agent.json['cluster'] as Json)['status'], 'agent_only');
      assert.equal((await c.storage.clusters.verifyIngestToken(String(agent.json['ingestToken'])))?.id, agentId);
      const snap = await call(c, 'POST', `/api/v1/clusters/${agentId}/snapshots`);
      assert.equal(snap.status, 400);

      const del = await call(c, 'DELETE', `/api/v1/clusters/${id}`);
      assert.equal(del.status, 204);
      assert.equal(await c.storage.clusters.verifyIngestToken(fresh), null);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: bad input is a 400 naming the field`, async () => {
    const c = await setup();
    try {
      const cases: Array<[Json, RegExp]> = [
        [{ name: 'a', kubeconfig: c.fake.kubeconfig(), color: 'red' }, /body\.color: unknown field/],
        [{ name: 'a', kubeconfig: 'clusters: [\n  - name: x\n  cluster: {' }, /body\.kubeconfig: not valid YAML/],
        [{ name: 'a', kubeconfig: '- just\n- a list\n' }, /body\.kubeconfig: must be a kubeconfig mapping/],
        [
          { name: 'a', kubeconfig: c.fake.kubeconfig(), context: 'nope' },
          /body\.kubeconfig: context: context "nope" not found \(known: kind-test\)/,
        ],
        [
          {
            name: 'a',
            kubeconfig: c.fake.kubeconfig().replace('"certificate-authority-data"', '"certificate-authority"'),
          },
          /body\.kubeconfig: clusters\[kind\]\.cluster\.certificate-authority: is a file path/,
        ],
        [
          {
            name: 'a',
            kubeconfig: JSON.stringify({ ...JSON.parse(c.fake.kubeconfig()), 'current-context': undefined }),
          },
          /body\.kubeconfig: current-context: no current-context; give a context \(one of kind-test\)/,
        ],
        [{ name: 'bad name!', kubeconfig: c.fake.kubeconfig() }, /body\.name/],
        [{ name: 'a', kubeconfig: c.fake.kubeconfig(), intervalSeconds: 5 }, /body\.intervalSeconds: must be >= 60/],
        [{ name: 'a', context: 'x' }, /body\.context: a context needs a kubeconfig/],
        [{ kubeconfig: c.fake.kubeconfig() }, /body\.name: required/],
      ];
      for (const [body, expected] of cases) {
        const r = await call(c, 'POST', '/api/v1/clusters', body);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)} → ${r.text}`);
        assert.match(String((r.json['error'] as Json)['message']), expected);
        assert.ok(!r.text.includes(FIXTURE_TOKEN));
      }
      assert.equal((await c.storage.clusters.list()).length, 0);
      const reader = await call(c, 'POST', '/api/v1/clusters', { name: 'a' }, c.api.tokens.reader);
      assert.equal(reader.status, 403);
      await register(c, 'dup');
      const dup = await call(c, 'POST', '/api/v1/clusters', { name: 'dup' });
      assert.equal(dup.status, 400);
      assert.match(dup.text, /exists/);
      const q = await call(c, 'GET', '/api/v1/clusters/x/findings?severity=awful');
      assert.equal(q.status, 400);
      const unknownQ = await call(c, 'GET', '/api/v1/clusters/x/inventory?colour=1');
      assert.equal(unknownQ.status, 400);
      assert.match(unknownQ.text, /querystring\.colour: unknown field/);
      assert.equal((await call(c, 'GET', '/api/v1/clusters/nope/inventory')).status, 404);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: only the newest snapshots are kept`, async () => {
    const c = await setup(3);
    try {
      const { id } = await register(c);
      for (let i = 0; i < 5; i++) {
        // Each snapshot changes one object, so each records a change.
        objectNamed(c.fake.objects, 'Namespace', 'shop')['metadata'] = {
          ...(objectNamed(c.fake.objects, 'Namespace', 'shop')['metadata'] as Json),
          resourceVersion: String(80000 + i),
          labels: { round: String(i) },
        };
        const out = await c.connector.snapshotCluster(id);
        assert.equal(out.status, 'ok');
        c.clock.advance(900_000);
      }
      const snaps = await c.storage.clusters.listSnapshots(id);
      assert.equal(snaps.total, 3);
      const kept = snaps.items.map((s) => s.id);
      const changeSnaps = await c.db.raw('SELECT DISTINCT snapshot_id FROM cluster_changes');
      assert.ok(changeSnaps.every((r) => kept.includes(String(r['snapshot_id']))));
      assert.equal(changeSnaps.length, 3);
      const total = await c.db.raw('SELECT COUNT(*) AS n FROM cluster_snapshots');
      assert.equal(Number(total[0]?.['n']), 3);
    } finally {
      await teardown(c);
    }
  });

  test(`${h.backend}: the scheduler snapshots due clusters once, and on request`, async () => {
    // The API (testApp) queues on the system clock: the scheduler's clock starts there too.
    const c = await setup(undefined, new Date().toISOString());
    try {
      const { id } = await register(c, 'sched', { intervalSeconds: 600 });
      await c.storage.clusters.create({ name: 'agent-only' });
      const sched = createScheduler({
        storage: c.storage,
        clock: c.clock,
        rescan: { enabled: false },
        poll: { enabled: false },
        rematch: { enabled: false },
        tasks: [clusterSnapshotTask(c.connector)],
        workerId: 'test-scheduler',
      });
      const t1 = await sched.runOnce();
      assert.deepEqual(t1.enqueued, [`cluster-snapshot:${id}`]);
      assert.equal(t1.ran.length, 1);
      assert.equal(t1.ran[0]?.outcome, 'succeeded');
      assert.equal((t1.ran[0]?.output as { status: string }).status, 'ok');
      // Not due again before its interval.
      c.clock.advance(300_000);
      const t2 = await sched.runOnce();
      assert.deepEqual(t2.enqueued, []);
      assert.equal(t2.ran.length, 0);
      // On request: queued now, deduplicated while queued.
      const req1 = await call(c, 'POST', `/api/v1/clusters/${id}/snapshots`, undefined, c.api.tokens.operator);
      assert.equal(req1.status, 202, req1.text);
      const req2 = await call(c, 'POST', `/api/v1/clusters/${id}/snapshots`, undefined, c.api.tokens.operator);
      assert.equal(req2.status, 200);
      assert.equal(req2.json['deduplicated'], true);
      assert.equal((req2.json['job'] as Json)['id'], (req1.json['job'] as Json)['id']);
      const t3 = await sched.runOnce();
      assert.equal(t3.ran.length, 1);
      assert.equal((await c.storage.clusters.listSnapshots(id)).total, 2);
      // Due again once the interval has passed since the last attempt.
      c.clock.advance(600_000);
      const t4 = await sched.runOnce();
      assert.deepEqual(t4.enqueued, [`cluster-snapshot:${id}`]);
      await sched.stop();
    } finally {
      await teardown(c);
    }
  });
});
