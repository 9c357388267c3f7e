/**
 * The inventory collector against the fake API server of packages/kube (HTTPS on 127.0.0.1,
 * recorded Events and watch sessions) with an in-test sink: Events become `inventory` batches
 * of KubeEventRecords, deduplicated by uid across relists and resumed watches, bounded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixedClock, isPalisadeError, type RuntimeIngestBatch } from '@palisade/core';
import { KubeClient, loadKubeconfig } from '@palisade/kube';
import { repoRoot, tempDir } from '@palisade/testkit';
import { kubeEventRecord, runInventoryCollector } from '../src/inventory.js';

// Test code of @palisade/kube, loaded from its build output by path.
type WatchStep = { event: { type: string; object: Record<string, unknown> } } | { drop: true } | { hold: true };
interface FakeApi {
  url: string;
  log: Array<{ method: string; path: string; query: string }>;
  close(): Promise<void>;
}
interface Pki {
  caCert: string;
}
interface FakeApiModule {
  makePki(dir: string): Pki;
  startFakeApi(
    pki: Pki,
    options?: {
      tokens?: string[];
      extraObjects?: Array<Record<string, unknown>>;
      watch?: Record<string, WatchStep[][]>;
      forbid?: string[];
    },
  ): Promise<FakeApi>;
}

const TOKEN = 'inventory-test-token';
const work = tempDir('palisade-inventory-');
let fake: FakeApiModule;
let pki: Pki;

before(async () => {
  const url = pathToFileURL(join(repoRoot(), 'packages', 'kube', 'dist', 'test', 'fake-apiserver.js')).href;
  fake = (await import(url)) as FakeApiModule;
  pki = fake.makePki(work.path);
});
after(() => work.cleanup());

function kevent(uid: string, count: number, reason = 'BackOff'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `web-1.${uid}`, namespace: 'shop', uid, resourceVersion: `${100 + count}` },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'shop' },
    reason,
    message: `Back-off restarting failed container web in pod web-1 (${uid})`,
    type: 'Warning',
    count,
    firstTimestamp: '2025-03-01T10:00:00Z',
    lastTimestamp: `2025-03-01T10:0${count}:00Z`,
  };
}

function client(api: FakeApi): KubeClient {
  const cfg = join(work.path, 'kubeconfig.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'prod',
      clusters: [
        {
          name: 'prod',
          cluster: { server: api.url, 'certificate-authority-data': readFileSync(pki.caCert).toString('base64') },
        },
      ],
      users: [{ name: 'prod', user: { token: TOKEN } }],
      contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod' } }],
    }),
  );
  return new KubeClient(loadKubeconfig({ kubeconfig: cfg }), { requestTimeoutMs: 5000 });
}

test('Events become inventory batches, deduplicated by uid across a dropped watch and a relist', async () => {
  const ev = (type: string, object: Record<string, unknown>): WatchStep => ({ event: { type, object } });
  const api = await fake.startFakeApi(pki, {
    tokens: [TOKEN],
    extraObjects: [kevent('e1', 1), kevent('e2', 1, 'FailedScheduling')],
    watch: {
      events: [
        // e3 is new; e1 again unchanged (a duplicate); then the connection drops.
        [ev('ADDED', kevent('e3', 1, 'Evicted')), ev('MODIFIED', kevent('e1', 1)), { drop: true }],
        // Resumed: e1's count went up (forwarded again), e2 expired (not forwarded).
        [ev('MODIFIED', kevent('e1', 3)), ev('DELETED', kevent('e2', 1))],
        [{ hold: true }],
      ],
    },
  });
  const kube = client(api);
  const batches: RuntimeIngestBatch[] = [];
  const abort = new AbortController();
  let ids = 0;
  try {
    const stats = await runInventoryCollector({
      client: kube,
      sink: {
        send: (b) => {
          batches.push(b);
          if (batches.flatMap((x) => x.kubeEvents ?? []).length >= 4) abort.abort();
          return Promise.resolve({ accepted: true });
        },
      },
      clock: fixedClock('2025-03-01T12:00:00Z'),
      node: 'palisade-inventory-7f9c',
      batchMaxItems: 2,
      flushIntervalMs: 50,
      backoffMs: 10,
      batchId: () => `b-${++ids}`,
      signal: abort.signal,
    });
    const records = batches.flatMap((b) => b.kubeEvents ?? []);
    assert.deepEqual(
      records.map((r) => `${r.uid}:${r.count}`),
      ['e1:1', 'e2:1', 'e3:1', 'e1:3'],
    );
    for (const b of batches) {
      assert.equal(b.source, 'inventory');
      assert.equal(b.node, 'palisade-inventory-7f9c');
      assert.equal(b.sentAt, '2025-03-01T12:00:00.000Z');
      assert.deepEqual(b.alerts, []);
      assert.deepEqual(b.events, []);
      assert.ok((b.kubeEvents?.length ?? 0) <= 2);
    }
    assert.deepEqual(
      batches.map((b) => b.batchId),
      batches.map((_, i) => `b-${i + 1}`),
    );
    const e2 = records.find((r) => r.uid === 'e2');
    assert.deepEqual(e2, {
      uid: 'e2',
      time: '2025-03-01T10:01:00.000Z',
      type: 'Warning',
      reason: 'FailedScheduling',
      message: 'Back-off restarting failed container web in pod web-1 (e2)',
      namespace: 'shop',
      involved: { kind: 'Pod', name: 'web-1', namespace: 'shop' },
      count: 1,
    });
    assert.equal(stats.duplicates, 1);
    assert.equal(stats.sent, 4);
    assert.ok(stats.retries >= 1, 'the dropped watch was resumed');
    assert.ok(!api.log.some((r) => r.path.includes('secrets')));
  } finally {
    kube.close();
    await api.close();
  }
});

test('a failing sink keeps records for the next flush, bounded by maxPending; 403 stops the collector', async () => {
  const api = await fake.startFakeApi(pki, {
    tokens: [TOKEN],
    extraObjects: [kevent('a', 1), kevent('b', 1), kevent('c', 1)],
    watch: { events: [[{ hold: true }]] },
  });
  const kube = client(api);
  const abort = new AbortController();
  let calls = 0;
  const delivered: string[] = [];
  try {
    const stats = await runInventoryCollector({
      client: kube,
      sink: {
        send: (b) => {
          calls++;
          if (calls === 1) return Promise.reject(new Error('server unavailable'));
          delivered.push(...(b.kubeEvents ?? []).map((r) => r.uid));
          abort.abort();
          return Promise.resolve({});
        },
      },
      maxPending: 2,
      batchMaxItems: 10,
      flushIntervalMs: 30,
      signal: abort.signal,
      log: () => undefined,
    });
    assert.equal(stats.sendErrors, 1);
    assert.equal(stats.dropped, 1, 'three Events in a queue of two: the oldest dropped');
    assert.deepEqual(delivered, ['b', 'c']);
  } finally {
    kube.close();
    await api.close();
  }

  const denied = await fake.startFakeApi(pki, { tokens: [TOKEN], forbid: ['events'] });
  const kube2 = client(denied);
  try {
    await assert.rejects(
      runInventoryCollector({ client: kube2, sink: { send: () => Promise.resolve({}) }, flushIntervalMs: 50 }),
      (err: unknown) => isPalisadeError(err) && err.code === 'E_AUTH' && /events/.test(err.describe()),
    );
  } finally {
    kube2.close();
    await denied.close();
  }
});

test('kubeEventRecord: events.k8s.io shape, missing fields, bounded strings', () => {
  const now = new Date('2025-03-01T12:00:00Z');
  assert.equal(kubeEventRecord({ metadata: {} }, now), undefined, 'no uid: not forwarded');
  const r = kubeEventRecord(
    {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { uid: 'u1', namespace: 'kube-system' },
      regarding: { kind: 'Node', name: 'node-1' },
      note: 'x'.repeat(10_000),
      reason: 'NodeNotReady',
      series: { count: 7, lastObservedTime: '2025-03-01T11:59:00.123456Z' },
    },
    now,
  );
  assert.equal(r?.count, 7);
  assert.equal(r?.time, '2025-03-01T11:59:00.123Z');
  assert.equal(r?.type, 'Normal');
  assert.equal(r?.message.length, 4096);
  assert.deepEqual(r?.involved, { kind: 'Node', name: 'node-1', namespace: '' });
  assert.equal(kubeEventRecord({ metadata: { uid: 'u2' } }, now)?.time, '2025-03-01T12:00:00.000Z');
});
