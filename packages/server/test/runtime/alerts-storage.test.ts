/**
 * Runtime alert storage on both backends, fed through the pipeline's detection: recorded events
 * in, alerts with their context out; batch and alert dedupe; grouping windows; filters and
 * paging; sensor counters; Kubernetes events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeEventRecord } from '@palisade/core';
import { createRuntimePipeline } from '../../src/runtime/pipeline.js';
import { forEachBackend, TestClock } from '../storage/harness.js';
import { again, batch, builtinEngine, fixtureEvent, nodeAlerts } from './helpers.js';

const CLUSTER = 'c-prod';

forEachBackend((h) => {
  const setup = async (): Promise<{
    storage: Awaited<ReturnType<Awaited<ReturnType<typeof h.fresh>>['open']>>;
    pipeline: ReturnType<typeof createRuntimePipeline>;
    raw: (sql: string) => Promise<Array<Record<string, unknown>>>;
  }> => {
    const db = await h.fresh();
    const storage = await db.open({ clock: new TestClock('2026-03-01T10:06:00.000Z') });
    const pipeline = createRuntimePipeline({ storage, engine: builtinEngine(), clock: new TestClock() });
    return { storage, pipeline, raw: (sql) => db.raw(sql) };
  };

  test('forwarded recorded events become alerts with their context; non-firing events raise nothing', async () => {
    const { storage, pipeline } = await setup();
    // fx-001: an interactive shell in the nginx container; fx-032: an outbound connection the
    // library flags; fx-002 is the recorded event that must not fire.
    const r = await pipeline.process(
      CLUSTER,
      batch({ batchId: 'b1', events: [fixtureEvent('fx-001'), fixtureEvent('fx-002'), fixtureEvent('fx-032')] }),
    );
    assert.equal(r.accepted, true);
    assert.equal(r.events, 3);
    const page = await storage.alerts.list({});
    const rules = page.items.map((a) => a.ruleId).sort();
    assert.ok(rules.includes('PAL-RT-001'), `rules: ${rules.join(',')}`);
    assert.ok(rules.includes('PAL-RT-030'), `rules: ${rules.join(',')}`);
    assert.equal(r.alerts, page.total);
    assert.ok(page.items.every((a) => a.origin === 'server' && a.clusterId === CLUSTER));

    const shell = page.items.find((a) => a.ruleId === 'PAL-RT-001');
    assert.ok(shell);
    assert.equal(shell.namespace, 'shop');
    assert.equal(shell.pod, 'web-6b7d9-xk2p');
    assert.equal(shell.workloadKind, 'Deployment');
    assert.equal(shell.workloadName, 'web');
    assert.equal(shell.image, 'docker.io/library/nginx:1.27');
    assert.match(shell.imageDigest ?? '', /^sha256:/);
    assert.equal(shell.containerName, 'web');
    assert.equal(shell.node, 'node-a');
    assert.deepEqual(shell.process, { pid: 4242, exe: '/bin/bash', argv: ['bash'] });
    assert.equal(shell.peer, null);
    assert.equal(shell.time, '2026-03-01T10:00:01.000Z');
    assert.ok(shell.mitre.length > 0);

    const conn = page.items.find((a) => a.ruleId === 'PAL-RT-030');
    const ev = fixtureEvent('fx-032');
    assert.ok(conn && ev.type === 'network.connect');
    assert.deepEqual(conn.peer, {
      address: ev.net.dstAddr,
      port: ev.net.dstPort,
      protocol: 'tcp',
      direction: 'outbound',
    });

    const detail = await storage.alerts.get(shell.id);
    assert.ok(detail);
    assert.deepEqual(detail.events, [fixtureEvent('fx-001')]);
    assert.equal(await storage.alerts.get('0000000000000000'), null);
  });

  test('the same batch twice is accepted once; counters are not counted twice', async () => {
    const { storage, pipeline } = await setup();
    const b = batch({
      batchId: 'same',
      events: [fixtureEvent('fx-003')],
      counters: { seen: { 'process.exec': 10 }, kernelDrops: 2, userDrops: 1, spoolDrops: 0 },
    });
    const first = await pipeline.process(CLUSTER, b);
    const second = await pipeline.process(CLUSTER, structuredClone(b));
    assert.equal(first.accepted, true);
    assert.ok(first.alerts > 0);
    assert.deepEqual(second, { batchId: 'same', accepted: false, alerts: 0, events: 0, duplicates: 0 });
    assert.equal((await storage.alerts.list({})).total, first.alerts);
    const [c] = await storage.alerts.counters(CLUSTER);
    assert.equal(c?.batches, 1);
    assert.deepEqual(c?.seen, { 'process.exec': 10 });
    // The same batch id from another cluster is another batch.
    const other = await pipeline.process('c-dev', structuredClone(b));
    assert.equal(other.accepted, true);
    assert.equal((await storage.alerts.list({ clusterId: 'c-dev' })).total, first.alerts);
  });

  test('the same alert in two batches, and raised by both the node and the server, is stored once', async () => {
    const { storage, pipeline } = await setup();
    const ev = fixtureEvent('fx-001');
    const fromNode = nodeAlerts([ev]);
    assert.ok(fromNode.length > 0);
    // Batch 1: the node's alert and the raw event (the server raises the same alert on it).
    const r1 = await pipeline.process(CLUSTER, batch({ batchId: 'n1', alerts: fromNode, events: [ev] }));
    assert.equal(r1.alerts, fromNode.length);
    assert.equal(r1.duplicates, fromNode.length);
    // Batch 2 (a different batch id) carries the same alert again.
    const r2 = await pipeline.process(CLUSTER, batch({ batchId: 'n2', alerts: nodeAlerts([ev]) }));
    assert.equal(r2.accepted, true);
    assert.equal(r2.alerts, 0);
    assert.equal(r2.duplicates, fromNode.length);
    const page = await storage.alerts.list({});
    assert.equal(page.total, fromNode.length);
    assert.ok(
      page.items.every((a) => a.origin === 'sensor'),
      'the node’s copy is kept',
    );
    const [g] = (await storage.alerts.groups({})).items;
    assert.equal(g?.count, fromNode.length);
  });

  test('alerts of one rule on one workload group within the window; a later one opens a new group', async () => {
    const { storage, pipeline } = await setup();
    // fx-003 (reverse shell, PAL-RT-002) again and again: 10:00:03, 10:04, 10:09:59 in one
    // 10-minute window, then 10:12 in the next.
    const times = ['2026-03-01T10:00:03.000Z', '2026-03-01T10:04:00.000Z', '2026-03-01T10:09:59.999Z'];
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'g1', events: times.map((t, i) => again('fx-003', `rs-${i}`, t)) }),
    );
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'g2', events: [again('fx-003', 'rs-late', '2026-03-01T10:12:00.000Z')] }),
    );
    // The same rule on another workload is another group.
    const elsewhere = again('fx-003', 'rs-other', '2026-03-01T10:05:00.000Z');
    if (elsewhere.k8s) elsewhere.k8s = { ...elsewhere.k8s, workloadName: 'api', pod: 'api-1' };
    await pipeline.process(CLUSTER, batch({ batchId: 'g3', events: [elsewhere] }));

    const groups = (await storage.alerts.groups({ ruleId: 'PAL-RT-002' })).items;
    assert.deepEqual(
      groups.map((g) => [g.workloadKey, g.windowStart, g.count, g.firstTime, g.lastTime]),
      [
        [
          'k8s:shop/Deployment/web',
          '2026-03-01T10:10:00.000Z',
          1,
          '2026-03-01T10:12:00.000Z',
          '2026-03-01T10:12:00.000Z',
        ],
        ['k8s:shop/Deployment/web', '2026-03-01T10:00:00.000Z', 3, times[0], times[2]],
        [
          'k8s:shop/Deployment/api',
          '2026-03-01T10:00:00.000Z',
          1,
          '2026-03-01T10:05:00.000Z',
          '2026-03-01T10:05:00.000Z',
        ],
      ],
    );
    const big = groups[1];
    assert.ok(big);
    const inGroup = await storage.alerts.list({ groupId: big.id });
    assert.equal(inGroup.total, 3);
    assert.equal(big.latestAlertId, inGroup.items[0]?.id, 'latest = newest alert of the group');
    assert.equal(big.severity, inGroup.items[0]?.severity);
    assert.equal(await storage.alerts.getGroup('nope'), null);
    assert.deepEqual(await storage.alerts.getGroup(big.id), big);
  });

  test('filters: severity, minimum severity, rule, cluster, namespace, node, time; keyset and offset paging', async () => {
    const { storage, pipeline } = await setup();
    const events = ['fx-001', 'fx-003', 'fx-005', 'fx-023', 'fx-032', 'fx-038', 'fx-052'].map(fixtureEvent);
    await pipeline.process(CLUSTER, batch({ batchId: 'f1', events }));
    await pipeline.process('c-dev', batch({ batchId: 'f2', events: [fixtureEvent('fx-001')] }));
    const all = await storage.alerts.list({ limit: 500 });
    assert.ok(all.total >= 8);
    // Newest first, ties by id.
    const keys = all.items.map((a) => `${a.time}|${a.id}`);
    assert.deepEqual(keys, [...keys].sort().reverse());

    const sev = all.items[0]?.severity ?? 'high';
    const exact = await storage.alerts.list({ severity: [sev], limit: 500 });
    assert.equal(exact.total, all.items.filter((a) => a.severity === sev).length);
    assert.ok(exact.items.every((a) => a.severity === sev));
    const rank = { critical: 5, high: 4, medium: 3, low: 2, negligible: 1, unknown: 0 };
    const min = await storage.alerts.list({ minSeverity: 'high', limit: 500 });
    assert.equal(min.total, all.items.filter((a) => rank[a.severity] >= 4).length);

    assert.equal(
      (await storage.alerts.list({ clusterId: 'c-dev' })).total,
      nodeAlerts([fixtureEvent('fx-001')]).length,
    );
    assert.ok((await storage.alerts.list({ ruleId: 'PAL-RT-001' })).items.every((a) => a.ruleId === 'PAL-RT-001'));
    assert.equal((await storage.alerts.list({ ruleId: 'PAL-RT-001' })).total, 2);
    const host = await storage.alerts.list({ namespace: 'shop', limit: 500 });
    assert.ok(host.items.every((a) => a.namespace === 'shop'));
    assert.ok(host.total < all.total, 'host alerts (no namespace) are not in namespace shop');
    assert.equal((await storage.alerts.list({ node: 'nowhere' })).total, 0);

    const from = '2026-03-01T10:00:03.000Z';
    const to = '2026-03-01T10:00:30.000Z';
    const window = await storage.alerts.list({ from, to, limit: 500 });
    assert.equal(window.total, all.items.filter((a) => a.time >= from && a.time < to).length);
    assert.ok(window.total > 0 && window.total < all.total);

    // Keyset pages walk the whole list once, in order.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await storage.alerts.list({ limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((a) => a.id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(
      seen,
      all.items.map((a) => a.id),
    );
    const second = await storage.alerts.list({ limit: 3, offset: 3 });
    assert.deepEqual(
      second.items.map((a) => a.id),
      all.items.slice(3, 6).map((a) => a.id),
    );
    await assert.rejects(storage.alerts.list({ from: 'yesterday' }), { code: 'E_INPUT', subject: 'from' });
  });

  test('sensor counters are summed per node; Kubernetes events are deduplicated by uid and bounded per cluster', async () => {
    const { storage, pipeline } = await setup();
    await pipeline.process(
      CLUSTER,
      batch({
        batchId: 'c1',
        counters: { seen: { 'process.exec': 100, 'file.open': 7 }, kernelDrops: 3, userDrops: 1, spoolDrops: 0 },
      }),
    );
    await pipeline.process(
      CLUSTER,
      batch({
        batchId: 'c2',
        counters: { seen: { 'process.exec': 50, 'network.connect': 2 }, kernelDrops: 0, userDrops: 4, spoolDrops: 5 },
      }),
    );
    await pipeline.process(CLUSTER, batch({ batchId: 'c3', node: 'node-b' }));
    const counters = await storage.alerts.counters();
    assert.deepEqual(
      counters.map((c) => ({ ...c, lastReportAt: typeof c.lastReportAt })),
      [
        {
          clusterId: CLUSTER,
          node: 'node-a',
          seen: { 'file.open': 7, 'network.connect': 2, 'process.exec': 150 },
          kernelDrops: 3,
          userDrops: 5,
          spoolDrops: 5,
          batches: 2,
          sensorVersion: '0.1.0',
          lastReportAt: 'string',
        },
        {
          clusterId: CLUSTER,
          node: 'node-b',
          seen: {},
          kernelDrops: 0,
          userDrops: 0,
          spoolDrops: 0,
          batches: 1,
          sensorVersion: '0.1.0',
          lastReportAt: 'string',
        },
      ],
    );
    assert.deepEqual(await storage.alerts.counters('elsewhere'), []);

    const kube = (n: number, from: number, count = 1): KubeEventRecord[] =>
      Array.from({ length: n }, (_, i) => ({
        uid: `uid-${from + i}`,
        time: new Date(Date.parse('2026-03-01T00:00:00.000Z') + (from + i) * 1000).toISOString(),
        type: 'Warning',
        reason: 'BackOff',
        message: `Back-off restarting failed container ${from + i}`,
        namespace: 'shop',
        involved: { kind: 'Pod', name: `web-${from + i}`, namespace: 'shop' },
        count,
      }));
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'k1', source: 'inventory', node: 'inv-0', kubeEvents: kube(3, 0) }),
    );
    // uid-1 again with a higher count and a later time (the Event was updated); uid-0 replayed as it was.
    const updated = { ...kube(1, 1, 4)[0], time: '2026-03-01T00:00:09.000Z' } as KubeEventRecord;
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'k2', source: 'inventory', node: 'inv-0', kubeEvents: [updated, ...kube(1, 0)] }),
    );
    const kept = await storage.alerts.kubeEvents(CLUSTER);
    assert.deepEqual(
      kept.map((e) => [e.uid, e.count, e.time]),
      [
        ['uid-1', 4, '2026-03-01T00:00:09.000Z'],
        ['uid-2', 1, '2026-03-01T00:00:02.000Z'],
        ['uid-0', 1, '2026-03-01T00:00:00.000Z'],
      ],
    );
    assert.deepEqual(await storage.alerts.kubeEvents('c-dev'), []);
  });

  test('kept Kubernetes events stop at 10,000 per cluster', async () => {
    const { pipeline, raw } = await setup();
    const kube = (n: number, from: number): KubeEventRecord[] =>
      Array.from({ length: n }, (_, i) => ({
        uid: `u-${String(from + i).padStart(6, '0')}`,
        time: new Date(Date.parse('2026-03-01T00:00:00.000Z') + (from + i) * 1000).toISOString(),
        type: 'Normal',
        reason: 'Pulled',
        message: 'pulled',
        namespace: 'shop',
        involved: { kind: 'Pod', name: 'web', namespace: 'shop' },
        count: 1,
      }));
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'k1', source: 'inventory', node: 'i', kubeEvents: kube(5000, 0) }),
    );
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'k2', source: 'inventory', node: 'i', kubeEvents: kube(5000, 5000) }),
    );
    await pipeline.process(
      CLUSTER,
      batch({ batchId: 'k3', source: 'inventory', node: 'i', kubeEvents: kube(2, 10_000) }),
    );
    const rows = await raw('SELECT COUNT(*) AS n, MIN(uid) AS oldest FROM kube_events');
    assert.equal(Number(rows[0]?.['n']), 10_000);
    assert.equal(rows[0]?.['oldest'], 'u-000002');
  });
});
