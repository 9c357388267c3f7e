/**
 * Review findings on runtime ingest, through the real HTTP app on both backends: what used to be
 * a 503 retried forever (a deeply nested audit body, NUL in a string, a value the database
 * refuses) is a 400 naming the input; a cluster over its rate limit gets 429 with Retry-After
 * before its body is read; node names per cluster are capped; retention prunes in bounded
 * batches; deleting a cluster removes its runtime data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { KubeEventRecord, RuntimeIngestBatch } from '@palisade/core';
import { createScheduler } from '../../src/scheduler/index.js';
import { pruneRuntimeData, runtimeRetentionTask, RUNTIME_RETENTION_JOB_KIND } from '../../src/runtime/retention.js';
import { createRuntimePipeline } from '../../src/runtime/pipeline.js';
import { forEachBackend, TestClock } from '../storage/harness.js';
import {
  again,
  auth,
  batch,
  builtinEngine,
  fixtureEvent,
  nodeAlerts,
  runtimeApp,
  type RuntimeTestApp,
} from './helpers.js';

interface ErrorReply {
  error: { code: string; message: string };
}

const NOW = '2026-03-01T10:06:00.000Z';

function post(t: RuntimeTestApp, token: string, payload: unknown, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/ingest/runtime',
    headers: { ...auth(token), 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
  });
}

/** A batch with one audit event (fx-044, which fires PAL-RT-050) whose request object is `nested` levels deep. */
function deepAuditBody(nested: number): string {
  const ev = fixtureEvent('fx-044');
  if (ev.type !== 'k8s.audit') throw new Error('fx-044 is an audit event');
  ev.audit.requestObject = '__DEEP__';
  // Built as text: JSON.stringify itself overflows the stack on such a value.
  return JSON.stringify(batch({ batchId: `deep-${nested}`, events: [ev] })).replace(
    '"__DEEP__"',
    '{"spec":'.repeat(nested) + '1' + '}'.repeat(nested),
  );
}

function kubeEvent(uid: string, time: string): KubeEventRecord {
  return {
    uid,
    time,
    type: 'Warning',
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    namespace: 'shop',
    involved: { kind: 'Pod', name: 'web-1', namespace: 'shop' },
    count: 1,
  };
}

forEachBackend((h) => {
  const setup = async (
    opts: Partial<Parameters<typeof runtimeApp>[1]> = {},
  ): Promise<RuntimeTestApp & { raw: (sql: string, p?: unknown[]) => Promise<Array<Record<string, unknown>>> }> => {
    const db = await h.fresh();
    const storage = await db.open();
    const t = await runtimeApp(storage, { clock: new TestClock(NOW), ...opts });
    return { ...t, raw: (sql, p) => db.raw(sql, p) };
  };

  test('an audit request object nested 5,000 levels deep is 400 naming the path, not a 503 retried forever', async () => {
    const t = await setup();
    try {
      const r = await post(t, t.ingest.prod, deepAuditBody(5000));
      assert.equal(r.statusCode, 400, r.body);
      const err = r.json<ErrorReply>().error;
      assert.equal(err.code, 'E_INPUT');
      assert.match(err.message, /^body\.events\[0\]\.audit\.requestObject(\.spec)+: nested deeper than 64 levels$/);
      // Real request bodies (a dozen levels) still pass, and the alert is stored.
      const ok = await post(t, t.ingest.prod, deepAuditBody(40));
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<{ alerts: number }>().alerts, 1);
    } finally {
      await t.close();
    }
  });

  test('a NUL character in any string or key is 400 naming the path; nothing of the batch is stored', async () => {
    const t = await setup();
    try {
      const base = (): RuntimeIngestBatch => {
        const events = [fixtureEvent('fx-001'), fixtureEvent('fx-044')];
        return batch({
          batchId: 'nul',
          events,
          alerts: nodeAlerts([fixtureEvent('fx-001')]),
          kubeEvents: [kubeEvent('k-1', '2026-03-01T10:00:00.000Z')],
        });
      };
      const cases: Array<[string, (b: RuntimeIngestBatch) => void, string]> = [
        [
          'argv',
          (b) => {
            const ev = b.events[0];
            if (ev && 'proc' in ev) ev.proc.argv = ['bash', '-c', 'id\u0000'];
          },
          'body.events[0].proc.argv[2]: must not contain NUL characters',
        ],
        [
          'alert field value',
          (b) => void ((b.alerts[0] as { fields: Record<string, string> }).fields['proc.name'] = 'ba\u0000sh'),
          'body.alerts[0].fields.proc.name: must not contain NUL characters',
        ],
        [
          'alert field key',
          (b) => void ((b.alerts[0] as { fields: Record<string, string> }).fields['x\u0000'] = 'y'),
          'body.alerts[0].fields: keys must not contain NUL characters',
        ],
        [
          'kube event message',
          (b) => void ((b.kubeEvents as KubeEventRecord[])[0] = { ...kubeEvent('k-1', NOW), message: '\u0000' }),
          'body.kubeEvents[0].message: must not contain NUL characters',
        ],
        [
          'string deep in an audit request object',
          (b) => {
            const ev = b.events[1];
            if (ev?.type === 'k8s.audit') ev.audit.requestObject = { spec: { containers: [{ image: 'x\u0000' }] } };
          },
          'body.events[1].audit.requestObject.spec.containers[0].image: must not contain NUL characters',
        ],
        [
          'key in an audit request object',
          (b) => {
            const ev = b.events[1];
            if (ev?.type === 'k8s.audit') ev.audit.requestObject = { metadata: { 'a\u0000b': 1 } };
          },
          'body.events[1].audit.requestObject.metadata: keys must not contain NUL characters',
        ],
        ['node', (b) => void (b.node = 'node\u0000a'), 'body.node: must not contain NUL characters'],
      ];
      for (const [name, mutate, message] of cases) {
        const b = base();
        mutate(b);
        const r = await post(t, t.ingest.prod, b);
        assert.equal(r.statusCode, 400, `${name}: ${r.body}`);
        assert.ok(r.json<ErrorReply>().error.message.startsWith(message), `${name}: ${r.body}`);
      }
      const stored = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
      assert.equal(stored.json<{ total: number }>().total, 0);
      const ok = await post(t, t.ingest.prod, base());
      assert.equal(ok.statusCode, 200, ok.body);
    } finally {
      await t.close();
    }
  });

  test('a value the database refuses is 400 for the sender to dead-letter, not a 503 retried forever', async () => {
    const t = await setup();
    try {
      // Valid by the contract (a safe integer), beyond PostgreSQL's INTEGER column (22003).
      const ev = fixtureEvent('fx-001');
      if (!('proc' in ev)) throw new Error('fx-001 has a process');
      ev.proc.pid = 2 ** 40;
      const r = await post(t, t.ingest.prod, batch({ batchId: 'big-pid', events: [ev] }));
      if (h.backend === 'postgres') {
        assert.equal(r.statusCode, 400, r.body);
        const err = r.json<ErrorReply>().error;
        assert.equal(err.code, 'E_INPUT');
        assert.match(err.message, /^batch big-pid: the database refused a value of this batch \(22003\)/);
        assert.match(err.message, /sending it again cannot succeed$/);
      } else {
        assert.equal(r.statusCode, 200, r.body);
      }

      // Below the checks (as a JetStream worker calls it): NUL in text, which PostgreSQL refuses.
      const nul = fixtureEvent('fx-001');
      if ('proc' in nul) nul.proc.argv = ['bash', '\u0000'];
      const stored = t.pipeline.process(t.clusters.dev, batch({ batchId: 'nul-direct', events: [nul] }));
      if (h.backend === 'postgres') {
        await assert.rejects(stored, (err: Error & { code?: string }) => {
          assert.equal(err.code, 'E_INPUT');
          assert.match(err.message, /\((22021|22P05)\)/);
          return true;
        });
      } else {
        assert.equal((await stored).accepted, true);
      }
    } finally {
      await t.close();
    }
  });

  test('a cluster over its ingest rate limit gets 429 with Retry-After before its body is read; others go on', async () => {
    const clock = new TestClock(NOW);
    const db = await h.fresh();
    const storage = await db.open();
    const t = await runtimeApp(storage, {
      clock,
      rateLimit: { itemsPerSecond: 10, bytesPerSecond: 40_000, burstSeconds: 1 },
    });
    try {
      const events = (n: number, tag: string): RuntimeIngestBatch['events'] =>
        Array.from({ length: n }, (_, i) => again('fx-002', `${tag}-${i}`, '2026-03-01T10:00:00.000Z'));
      assert.equal((await post(t, t.ingest.prod, batch({ batchId: 'r1', events: events(8, 'a') }))).statusCode, 200);
      // Still not in debt (2 left): admitted, and its 8 items take the bucket 6 below zero.
      assert.equal((await post(t, t.ingest.prod, batch({ batchId: 'r2', events: events(8, 'b') }))).statusCode, 200);
      const limited = await post(t, t.ingest.prod, batch({ batchId: 'r3', events: events(1, 'c') }));
      assert.equal(limited.statusCode, 429, limited.body);
      assert.equal(limited.headers['retry-after'], '1');
      assert.match(
        limited.json<ErrorReply>().error.message,
        /^cluster prod: over its ingest rate limit; retry in 1 s$/,
      );
      // Refused before the body is read: a gzip bomb is not even inflated (no 413).
      const bomb = await post(t, t.ingest.prod, gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x20)), {
        'content-encoding': 'gzip',
      });
      assert.equal(bomb.statusCode, 429);
      // Another cluster has its own buckets.
      assert.equal((await post(t, t.ingest.dev, batch({ batchId: 'd1', events: events(5, 'd') }))).statusCode, 200);
      // Paid back at 10 items/s: one second later, prod may send again.
      clock.advance(1000);
      assert.equal((await post(t, t.ingest.prod, batch({ batchId: 'r3', events: events(1, 'c') }))).statusCode, 200);

      // Bytes count too, and a refused body's bytes as well: 60 kB of an unknown field puts dev in debt.
      const junk = JSON.stringify({ ...batch({ batchId: 'junk' }), padding: 'x'.repeat(60_000) });
      const refused = await post(t, t.ingest.dev, junk);
      assert.equal(refused.statusCode, 400);
      const after = await post(t, t.ingest.dev, batch({ batchId: 'd2' }));
      assert.equal(after.statusCode, 429, after.body);
      assert.equal(after.headers['retry-after'], '1');
      const sensors = await t.app.inject({ method: 'GET', url: '/api/v1/runtime/sensors', headers: auth(t.reader) });
      const batches = sensors.json<{ items: Array<{ batches: number }> }>().items.reduce((n, s) => n + s.batches, 0);
      assert.equal(batches, 4, 'r1, r2, d1 and r3 were stored; nothing refused was');
    } finally {
      await t.close();
    }
  });

  test('a cluster keeps at most maxNodesPerCluster nodes: one more is 400 naming body.node; event types per node are capped', async () => {
    const t = await setup({ maxNodesPerCluster: 3 });
    try {
      for (const node of ['node-1', 'node-2', 'node-3'])
        assert.equal((await post(t, t.ingest.prod, batch({ batchId: `b-${node}`, node }))).statusCode, 200);
      const fourth = await post(
        t,
        t.ingest.prod,
        batch({ batchId: 'b-node-4', node: 'node-4', events: [fixtureEvent('fx-001')] }),
      );
      assert.equal(fourth.statusCode, 400, fourth.body);
      assert.match(
        fourth.json<ErrorReply>().error.message,
        /^body\.node: the cluster already has 3 nodes reporting, the most kept per cluster \(3\)/,
      );
      // Nothing of the refused batch was stored (its alert neither).
      const alerts = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
      assert.equal(alerts.json<{ total: number }>().total, 0);
      // A node already counted goes on; another cluster has its own room.
      assert.equal((await post(t, t.ingest.prod, batch({ batchId: 'b-node-2b', node: 'node-2' }))).statusCode, 200);
      assert.equal((await post(t, t.ingest.dev, batch({ batchId: 'b-dev-4', node: 'node-4' }))).statusCode, 200);

      const seen = (from: number, n: number): Record<string, number> =>
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`type.${from + i}`, 1]));
      const counters = (s: Record<string, number>) => ({ seen: s, kernelDrops: 0, userDrops: 0, spoolDrops: 0 });
      const c1 = await post(
        t,
        t.ingest.prod,
        batch({ batchId: 'seen-1', node: 'node-1', counters: counters(seen(0, 40)) }),
      );
      assert.equal(c1.statusCode, 200, c1.body);
      const c2 = await post(
        t,
        t.ingest.prod,
        batch({ batchId: 'seen-2', node: 'node-1', counters: counters(seen(40, 30)) }),
      );
      assert.equal(c2.statusCode, 400, c2.body);
      assert.match(c2.json<ErrorReply>().error.message, /^body\.counters\.seen: this node would count 70 event types/);
      const badKey = await post(
        t,
        t.ingest.prod,
        batch({ batchId: 'seen-3', node: 'node-1', counters: counters({ 'no spaces': 1 }) }),
      );
      assert.equal(badKey.statusCode, 400);
      assert.match(badKey.json<ErrorReply>().error.message, /^body\.counters\.seen: key 'no spaces' must match/);
    } finally {
      await t.close();
    }
  });

  test('retention prunes old alerts, groups, kube events, silent nodes and deleted clusters in bounded batches', async () => {
    const db = await h.fresh();
    const clock = new TestClock('2026-01-01T00:00:00.000Z');
    const storage = await db.open({ clock });
    const pipeline = createRuntimePipeline({ storage, engine: builtinEngine(), clock, rateLimit: null });
    const prod = (await storage.clusters.create({ name: 'prod' })).cluster.id;
    const gone = (await storage.clusters.create({ name: 'gone' })).cluster.id;
    const count = async (table: string, where = ''): Promise<number> =>
      Number((await db.raw(`SELECT COUNT(*) AS n FROM ${table} ${where}`))[0]?.['n']);
    // Old: 5 interactive shells (5 alerts, 5 groups: one per 10-minute window) on node-old, in January.
    const old = Array.from({ length: 5 }, (_, i) =>
      again('fx-001', `old-${i}`, new Date(Date.parse('2026-01-01T00:00:00Z') + i * 600_000).toISOString()),
    );
    await pipeline.process(
      prod,
      batch({
        batchId: 'old',
        node: 'node-old',
        events: old,
        kubeEvents: [kubeEvent('k-old', '2026-01-01T00:00:00.000Z')],
      }),
    );
    // The cluster `gone` sent a batch, then was deleted without its runtime rows (a race with its deletion).
    await pipeline.process(gone, batch({ batchId: 'g', events: [again('fx-001', 'g-1', '2026-03-01T00:00:00.000Z')] }));
    await db.raw(`DELETE FROM clusters WHERE id = ${h.backend === 'postgres' ? '$1' : '?'}`, [gone]);
    // Two months later: new alerts on node-new.
    clock.advance(59 * 86_400_000);
    const fresh = [again('fx-001', 'new-1', '2026-02-28T23:00:00.000Z')];
    await pipeline.process(
      prod,
      batch({
        batchId: 'new',
        node: 'node-new',
        events: fresh,
        kubeEvents: [kubeEvent('k-new', '2026-02-28T23:00:00.000Z')],
      }),
    );
    assert.equal(await count('alerts', `WHERE cluster_id = '${prod}'`), 6);

    // Bounded: 2 rows per statement, 3 per table per run; the first run leaves more to do.
    const now = clock.now();
    const first = await pruneRuntimeData(storage, now, { alertRetentionDays: 30, batchSize: 2, maxRowsPerTable: 3 });
    assert.deepEqual([first.alerts, first.groups, first.orphanClusters, first.more], [3, 3, 1, true]);
    let runs = 1;
    for (let last = first; last.more && runs < 10; runs++)
      last = await pruneRuntimeData(storage, now, { alertRetentionDays: 30, batchSize: 2, maxRowsPerTable: 3 });
    assert.equal(runs, 2);
    const alerts = await storage.alerts.list({});
    assert.deepEqual(
      alerts.items.map((a) => a.alertId),
      (await storage.alerts.list({ clusterId: prod })).items.map((a) => a.alertId),
      'the deleted cluster’s alert is gone',
    );
    assert.equal(alerts.total, 1, 'only the alert within 30 days is left');
    assert.equal((await storage.alerts.groups({})).total, 1);
    assert.deepEqual(
      (await storage.alerts.kubeEvents(prod)).map((e) => e.uid),
      ['k-new'],
    );
    assert.deepEqual(
      (await storage.alerts.counters()).map((c) => c.node),
      ['node-new'],
      'node-old was silent for 59 days',
    );
    for (const table of ['alerts', 'alert_groups', 'sensor_counters', 'sensor_seen', 'kube_events', 'ingest_batches'])
      assert.equal(await count(table, `WHERE cluster_id = '${gone}'`), 0, table);

    // The same as scheduler work: queued one interval ahead, run by the tick at that time.
    await pipeline.process(
      prod,
      batch({ batchId: 'old-2', events: [again('fx-001', 'old-2', '2026-01-02T00:00:00.000Z')] }),
    );
    assert.equal((await storage.alerts.list({})).total, 2);
    const scheduler = createScheduler({
      storage,
      clock,
      tasks: [runtimeRetentionTask(storage, { alertRetentionDays: 30, intervalMs: 3_600_000 })],
    });
    await scheduler.runOnce();
    assert.equal((await storage.alerts.list({})).total, 2, 'not due yet');
    clock.advance(3_600_000);
    const tick = await scheduler.runOnce();
    const run = tick.ran.find((r) => r.kind === RUNTIME_RETENTION_JOB_KIND);
    assert.equal(run?.outcome, 'succeeded', JSON.stringify(tick.ran));
    assert.equal((await storage.alerts.list({})).total, 1);
    await scheduler.stop();
    await pipeline.close();
  });

  test('DELETE /api/v1/clusters/:id removes its alerts, groups, counters, kube events and batch ids, not other clusters’', async () => {
    const t = await setup();
    try {
      for (const [token, id] of [
        [t.ingest.prod, 'p'],
        [t.ingest.dev, 'd'],
      ] as const) {
        const r = await post(
          t,
          token,
          batch({
            batchId: id,
            events: [fixtureEvent('fx-001'), fixtureEvent('fx-032')],
            kubeEvents: [kubeEvent(`k-${id}`, NOW)],
            counters: { seen: { 'process.exec': 1 }, kernelDrops: 0, userDrops: 0, spoolDrops: 0 },
          }),
        );
        assert.equal(r.statusCode, 200, r.body);
      }
      const rows = async (cluster: string): Promise<number[]> => {
        const out: number[] = [];
        for (const table of [
          'alerts',
          'alert_groups',
          'sensor_counters',
          'sensor_seen',
          'kube_events',
          'ingest_batches',
        ]) {
          const p = h.backend === 'postgres' ? '$1' : '?';
          out.push(
            Number((await t.raw(`SELECT COUNT(*) AS n FROM ${table} WHERE cluster_id = ${p}`, [cluster]))[0]?.['n']),
          );
        }
        return out;
      };
      const before = await rows(t.clusters.prod);
      assert.ok(
        before.every((n) => n > 0),
        `prod has rows everywhere: ${before.join(',')}`,
      );
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/clusters/${t.clusters.prod}`,
        headers: auth(t.admin),
      });
      assert.equal(del.statusCode, 204, del.body);
      assert.deepEqual(await rows(t.clusters.prod), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(await rows(t.clusters.dev), before, 'dev keeps the same rows');
    } finally {
      await t.close();
    }
  });
});
