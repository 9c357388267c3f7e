/**
 * The inventory collector against the fake API server of packages/kube (HTTPS on 127.0.0.1,
 * recorded Events, Pods, ReplicaSets and Jobs and watch sessions) with an in-test sink: Events
 * become `inventory` batches of KubeEventRecords, deduplicated by uid across relists and resumed
 * watches, bounded; the Pods' containers become KubeContainerRecords with their workload
 * resolved through ReplicaSets and Jobs, changed on watch events, resent in full on a 410 relist.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fixedClock, isPalisadeError, type KubeContainerRecord, type RuntimeIngestBatch } from '@palisade/core';
import { KubeClient, loadKubeconfig } from '@palisade/kube';
import { repoRoot, tempDir } from '@palisade/testkit';
import { kubeEventRecord, runInventoryCollector } from '../src/inventory.js';
import { containerIdOf, imageDigestOf, OwnerIndex, PodIndex, podSummary } from '../src/inventory-containers.js';

// Test code of @palisade/kube, loaded from its build output by path.
type WatchStep =
  { event: { type: string; object: Record<string, unknown> } } | { drop: true } | { hold: true } | { delayMs: number };
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
  fixtureObjects(): Array<Record<string, unknown>>;
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
      containers: false,
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
      containers: false,
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

// ---------------------------------------------------------------- container records

const hex = (c: string): string => c.repeat(64);
/** Container ids of the recorded pods web-7c9d5b8f6d-2xkqp and -h8w4m (packages/kube/test/fixtures/cluster.json). */
const WEB1 = '8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';
const WEB2 = '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
const JOB_UID = 'e9f1a3b5-7f9b-4d3f-fb7d-9f1b3d5f7b19'; // Job nightly-report-29401440, owned by CronJob nightly-report
const DS_UID = 'f4a6c8e0-2a4c-4e8a-ac2e-4a6c8e0a2c14'; // DaemonSet node-exporter

interface PodSpec {
  name: string;
  namespace?: string;
  uid: string;
  owner?: { kind: string; name: string; uid: string };
  labels?: Record<string, string>;
  serviceAccount?: string;
  statuses: Array<Record<string, unknown>>;
  initStatuses?: Array<Record<string, unknown>>;
}

function podObject(p: PodSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace ?? 'shop',
      uid: p.uid,
      resourceVersion: '60001',
      ...(p.labels ? { labels: p.labels } : {}),
      ...(p.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', controller: true, ...p.owner }] } : {}),
    },
    spec: { nodeName: 'kind-worker', serviceAccountName: p.serviceAccount ?? 'default' },
    status: {
      phase: 'Running',
      containerStatuses: p.statuses,
      ...(p.initStatuses ? { initContainerStatuses: p.initStatuses } : {}),
    },
  };
}

function running(name: string, containerID: string, image: string, imageID: string): Record<string, unknown> {
  return { name, containerID, image, imageID, ready: true, state: { running: { startedAt: '2026-11-23T02:00:05Z' } } };
}

const EXTRA_PODS = [
  podObject({
    name: 'nightly-report-29401440-x7k2p',
    uid: 'pod-job',
    owner: { kind: 'Job', name: 'nightly-report-29401440', uid: JOB_UID },
    serviceAccount: 'reporter',
    statuses: [
      running(
        'report',
        `cri-o://${hex('a')}`,
        'registry.example/report:2',
        `registry.example/report@sha256:${hex('1')}`,
      ),
    ],
  }),
  podObject({
    name: 'node-exporter-m2x8c',
    namespace: 'monitoring',
    uid: 'pod-ds',
    owner: { kind: 'DaemonSet', name: 'node-exporter', uid: DS_UID },
    statuses: [
      running(
        'node-exporter',
        `docker://${hex('b')}`,
        'quay.io/prometheus/node-exporter:v1.8.2',
        `docker-pullable://quay.io/prometheus/node-exporter@sha256:${hex('2')}`,
      ),
    ],
  }),
  podObject({
    name: 'db-0',
    uid: 'pod-sts',
    owner: { kind: 'StatefulSet', name: 'db', uid: 'sts-db' },
    statuses: [running('postgres', `containerd://${hex('c')}`, 'docker.io/library/postgres:16', `sha256:${hex('5')}`)],
    initStatuses: [
      {
        name: 'init-schema',
        containerID: `containerd://${hex('d')}`,
        image: 'docker.io/library/postgres:16',
        imageID: `sha256:${hex('5')}`,
        state: { terminated: { exitCode: 0, startedAt: '2026-11-23T01:59:58Z' } },
      },
    ],
  }),
  // Owned by a ReplicaSet not named <deployment>-<hash>, which the API only shows later (watch).
  podObject({
    name: 'legacy-8x2kf',
    uid: 'pod-legacy',
    owner: { kind: 'ReplicaSet', name: 'legacy-rs', uid: 'rs-legacy' },
    statuses: [running('app', `containerd://${hex('e')}`, 'registry.example/legacy:1', '')],
  }),
  podObject({
    name: 'debug-2',
    uid: 'pod-bare',
    statuses: [running('debug', `containerd://${hex('f')}`, 'docker.io/library/busybox:latest', '')],
  }),
  // Not started yet: no container id, no record.
  podObject({
    name: 'pending-1',
    uid: 'pod-pending',
    statuses: [
      {
        name: 'app',
        image: 'registry.example/app:1',
        imageID: '',
        state: { waiting: { reason: 'ContainerCreating' } },
      },
    ],
  }),
];

const API_POD = podObject({
  name: 'api-5d8f7-q2w9z',
  uid: 'pod-api',
  owner: { kind: 'ReplicaSet', name: 'api-5d8f7', uid: 'rs-api' },
  labels: { 'pod-template-hash': '5d8f7' },
  statuses: [
    running('api', `containerd://${hex('3')}`, 'registry.example/api:7', `registry.example/api@sha256:${hex('6')}`),
  ],
});

const LEGACY_RS = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {
    name: 'legacy-rs',
    namespace: 'shop',
    uid: 'rs-legacy',
    resourceVersion: '60010',
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'legacy', uid: 'dep-legacy', controller: true },
    ],
  },
};

/** Live (L) or deleted (D) records of one container, in the order they were sent. */
function history(records: readonly KubeContainerRecord[], id: string): string {
  return records
    .filter((r) => r.containerId === id)
    .map((r) => (r.deleted ? 'D' : 'L'))
    .join('');
}

test('Pods become container records: owners resolved, ADDED/MODIFIED/DELETED sent, 410 relist resent in full', async () => {
  const ev = (type: string, object: Record<string, unknown>): WatchStep => ({ event: { type, object } });
  const webPod = fake
    .fixtureObjects()
    .find((o) => (o['metadata'] as { name?: string }).name === 'web-7c9d5b8f6d-2xkqp');
  assert.ok(webPod, 'recorded pod web-7c9d5b8f6d-2xkqp');
  // Its container restarted: a new container id (the old one is gone).
  const restarted = structuredClone(webPod);
  (
    (restarted['status'] as { containerStatuses: Array<Record<string, unknown>> }).containerStatuses[0] as Record<
      string,
      unknown
    >
  )['containerID'] = `containerd://${hex('4')}`;
  const webPod2 = fake
    .fixtureObjects()
    .find((o) => (o['metadata'] as { name?: string }).name === 'web-7c9d5b8f6d-h8w4m');
  assert.ok(webPod2);
  const api = await fake.startFakeApi(pki, {
    tokens: [TOKEN],
    extraObjects: EXTRA_PODS,
    watch: {
      pods: [
        [
          ev('ADDED', API_POD),
          ev('MODIFIED', restarted),
          ev('DELETED', webPod2),
          ev('ERROR', {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            code: 410,
            reason: 'Expired',
            message: 'too old resource version',
          }),
        ],
        [{ hold: true }],
      ],
      // The legacy pod's ReplicaSet appears after the pods were listed.
      replicasets: [[{ delayMs: 1500 }, ev('ADDED', LEGACY_RS)], [{ hold: true }]],
    },
  });
  const kube = client(api);
  const batches: RuntimeIngestBatch[] = [];
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), 20_000);
  const records = (): KubeContainerRecord[] => batches.flatMap((b) => b.containers ?? []);
  const done = (): boolean => {
    const r = records();
    const legacy = r.filter((x) => x.containerId === hex('e')).at(-1);
    return history(r, WEB2) === 'LDL' && history(r, hex('3')) === 'LD' && legacy?.workloadKind === 'Deployment';
  };
  try {
    const stats = await runInventoryCollector({
      client: kube,
      sink: {
        send: (b) => {
          batches.push(structuredClone(b));
          if (done()) abort.abort();
          return Promise.resolve({ accepted: true });
        },
      },
      clock: fixedClock('2026-11-23T12:00:00Z'),
      node: 'palisade-inventory-7f9c',
      batchMaxItems: 3,
      flushIntervalMs: 30,
      backoffMs: 10,
      signal: abort.signal,
    });
    assert.ok(
      done(),
      `expected histories, got ${JSON.stringify(records().map((r) => `${r.containerId.slice(0, 4)}${r.deleted ? 'D' : 'L'}`))}`,
    );
    const r = records();
    for (const b of batches) {
      assert.equal(b.source, 'inventory');
      assert.equal(b.kubeEvents, undefined, 'no Events recorded: no kubeEvents field');
      assert.ok((b.containers?.length ?? 0) >= 1 && (b.containers?.length ?? 0) <= 3);
    }
    // The recorded pod: ReplicaSet web-7c9d5b8f6d → Deployment web, digest from the imageID.
    assert.deepEqual(
      r.find((x) => x.containerId === WEB1),
      {
        containerId: WEB1,
        containerName: 'nginx',
        pod: 'web-7c9d5b8f6d-2xkqp',
        namespace: 'shop',
        node: 'kind-worker',
        workloadKind: 'Deployment',
        workloadName: 'web',
        serviceAccount: 'web',
        image: 'docker.io/library/nginx:1.27',
        imageDigest: 'sha256:28402db69fec7c17e179ea87882667f1e054391138f77ffaf0c3eb388efc3ffb',
        podUid: 'c2e4a6c8-0e2a-4c6e-8a0c-2e4a6c8e0a12',
        startedAt: '2026-11-05T14:40:09.000Z',
      },
    );
    const last = (id: string): KubeContainerRecord | undefined => r.filter((x) => x.containerId === id).at(-1);
    // Job → CronJob; DaemonSet and StatefulSet directly; a bare pod has no workload; cri-o:// and docker:// stripped.
    assert.deepEqual(
      [hex('a'), hex('b'), hex('c'), hex('d'), hex('f')].map((id) => {
        const x = last(id);
        return [x?.pod, x?.workloadKind, x?.workloadName, x?.serviceAccount, x?.imageDigest, x?.startedAt];
      }),
      [
        [
          'nightly-report-29401440-x7k2p',
          'CronJob',
          'nightly-report',
          'reporter',
          `sha256:${hex('1')}`,
          '2026-11-23T02:00:05.000Z',
        ],
        [
          'node-exporter-m2x8c',
          'DaemonSet',
          'node-exporter',
          'default',
          `sha256:${hex('2')}`,
          '2026-11-23T02:00:05.000Z',
        ],
        ['db-0', 'StatefulSet', 'db', 'default', `sha256:${hex('5')}`, '2026-11-23T02:00:05.000Z'],
        ['db-0', 'StatefulSet', 'db', 'default', `sha256:${hex('5')}`, '2026-11-23T01:59:58.000Z'],
        ['debug-2', '', '', 'default', '', '2026-11-23T02:00:05.000Z'],
      ],
    );
    // A ReplicaSet not known yet resolves by its pod-template-hash name; the watched one by its owner.
    assert.deepEqual([last(hex('3'))?.workloadKind, last(hex('3'))?.workloadName], ['Deployment', 'api']);
    assert.deepEqual([last(hex('e'))?.workloadKind, last(hex('e'))?.workloadName], ['Deployment', 'legacy']);
    const legacyFirst = r.find((x) => x.containerId === hex('e'));
    assert.deepEqual(
      [legacyFirst?.workloadKind, legacyFirst?.workloadName],
      ['ReplicaSet', 'legacy-rs'],
      'sent before its ReplicaSet was known, sent again once it was',
    );
    // Sent when listed, on change, deleted when gone; the 410 relist resends everything listed and
    // deletes what the list no longer has (the added pod, the restarted container's new id).
    assert.equal(history(r, WEB1), 'LDL');
    assert.equal(history(r, hex('4')), 'LD');
    assert.equal(history(r, WEB2), 'LDL');
    assert.equal(history(r, hex('3')), 'LD');
    for (const id of [hex('a'), hex('b'), hex('c'), hex('d'), hex('f')]) assert.equal(history(r, id), 'LL', id);
    assert.equal(history(r, '0'.repeat(64)), '');
    assert.ok(!r.some((x) => x.pod === 'pending-1'), 'a container without an id is not sent');
    assert.equal(r.find((x) => x.deleted && x.containerId === WEB2)?.pod, 'web-7c9d5b8f6d-h8w4m');
    assert.equal(stats.pods, 11, 'five recorded pods and six more; the added one is gone after the relist');
    assert.equal(stats.containersSent, r.length);
    assert.ok(stats.retries >= 1, 'the 410 was retried with a relist');
    // Pods are listed at cluster scope after the owners; nothing else is read.
    const lists = api.log.filter((x) => !x.query.includes('watch=1')).map((x) => x.path);
    const firstPods = lists.indexOf('/api/v1/pods');
    assert.ok(
      firstPods > lists.indexOf('/apis/apps/v1/replicasets') && firstPods > lists.indexOf('/apis/batch/v1/jobs'),
    );
    assert.equal(lists.filter((x) => x === '/api/v1/pods').length, 2, 'listed, then relisted after 410');
    assert.deepEqual([...new Set(api.log.map((x) => x.path))].sort(), [
      '/api/v1/events',
      '/api/v1/pods',
      '/apis/apps/v1/replicasets',
      '/apis/batch/v1/jobs',
    ]);
  } finally {
    clearTimeout(deadline);
    kube.close();
    await api.close();
  }
});

test('container records are resent every resyncIntervalMs; a refused Pod read turns them off, Events go on', async () => {
  const api = await fake.startFakeApi(pki, { tokens: [TOKEN] });
  const kube = client(api);
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), 20_000);
  const sent: KubeContainerRecord[] = [];
  try {
    await runInventoryCollector({
      client: kube,
      sink: {
        send: (b) => {
          sent.push(...(b.containers ?? []));
          if (sent.filter((r) => r.containerId === WEB1).length >= 3) abort.abort();
          return Promise.resolve({});
        },
      },
      flushIntervalMs: 20,
      resyncIntervalMs: 100,
      signal: abort.signal,
    });
    const web1 = sent.filter((r) => r.containerId === WEB1);
    assert.ok(web1.length >= 3, 'listed once, then resent by the periodic resync');
    assert.ok(web1.every((r) => JSON.stringify(r) === JSON.stringify(web1[0]) && r.deleted === undefined));
  } finally {
    clearTimeout(deadline);
    kube.close();
    await api.close();
  }

  const denied = await fake.startFakeApi(pki, {
    tokens: [TOKEN],
    forbid: ['pods', 'replicasets'],
    extraObjects: [kevent('e1', 1)],
    watch: { events: [[{ delayMs: 300 }, { event: { type: 'ADDED', object: kevent('e2', 1) } }], [{ hold: true }]] },
  });
  const kube2 = client(denied);
  const abort2 = new AbortController();
  const deadline2 = setTimeout(() => abort2.abort(), 20_000);
  const events: string[] = [];
  const lines: string[] = [];
  try {
    const stats = await runInventoryCollector({
      client: kube2,
      sink: {
        send: (b) => {
          events.push(...(b.kubeEvents ?? []).map((e) => e.uid));
          assert.equal(b.containers, undefined);
          if (events.length >= 2) abort2.abort();
          return Promise.resolve({});
        },
      },
      flushIntervalMs: 20,
      signal: abort2.signal,
      log: (l) => lines.push(l),
    });
    assert.deepEqual(events, ['e1', 'e2'], 'Events still flow after the Pod read was refused');
    assert.deepEqual([...stats.refused].sort(), ['pods', 'replicasets']);
    assert.ok(
      lines.some((l) => /reading pods was refused, container context is off/.test(l)),
      lines.join('\n'),
    );
  } finally {
    clearTimeout(deadline2);
    kube2.close();
    await denied.close();
  }
});

test('PodIndex and OwnerIndex: bounded, owners resolved again when they change; container ids and digests parsed', () => {
  const rs = new OwnerIndex(2);
  const jobs = new OwnerIndex(2);
  const index = new PodIndex(2, rs, jobs);
  const summary = (name: string, uid: string, id: string): NonNullable<ReturnType<typeof podSummary>> => {
    const s = podSummary(
      podObject({
        name,
        uid,
        owner: { kind: 'ReplicaSet', name: 'odd-name', uid: 'rs-1' },
        statuses: [running('app', `containerd://${id}`, 'app:1', '')],
      }),
    );
    assert.ok(s);
    return s;
  };
  assert.deepEqual(
    index.update(summary('p1', 'u1', hex('1'))).map((r) => [r.workloadKind, r.workloadName]),
    [['ReplicaSet', 'odd-name']],
  );
  assert.deepEqual(index.update(summary('p1', 'u1', hex('1'))), [], 'unchanged: nothing to send');
  index.update(summary('p2', 'u2', hex('2')));
  index.update(summary('p3', 'u3', hex('3')));
  assert.equal(index.size, 2);
  assert.equal(index.evicted, 1, 'the least recently changed pod was forgotten');
  const owner = {
    metadata: { uid: 'rs-1', ownerReferences: [{ kind: 'Deployment', name: 'app', uid: 'd-1', controller: true }] },
  };
  assert.equal(rs.put(owner), 'rs-1');
  assert.equal(rs.put(owner), undefined, 'the same owner again changes nothing');
  assert.deepEqual(
    index.reresolve('rs-1').map((r) => [r.pod, r.workloadKind, r.workloadName]),
    [
      ['p2', 'Deployment', 'app'],
      ['p3', 'Deployment', 'app'],
    ],
  );
  assert.deepEqual(
    index.remove('u2').map((r) => [r.containerId, r.deleted]),
    [[hex('2'), true]],
  );
  assert.deepEqual(
    index.all().map((r) => r.pod),
    ['p3'],
  );
  rs.put({ metadata: { uid: 'a' } });
  rs.put({ metadata: { uid: 'b' } });
  assert.equal(rs.size, 2);
  assert.equal(rs.evicted, 1);
  assert.equal(rs.get('b'), null, 'known, without a controller');

  assert.equal(containerIdOf(`containerd://${hex('a')}`), hex('a'));
  assert.equal(containerIdOf(`cri-o://${hex('b')}`), hex('b'));
  assert.equal(containerIdOf(''), undefined);
  assert.equal(containerIdOf(hex('a')), undefined, 'no scheme: not a status containerID');
  assert.equal(containerIdOf('docker://../../etc'), undefined);
  assert.equal(containerIdOf(`containerd://${'a'.repeat(129)}`), undefined);
  assert.equal(imageDigestOf(`docker-pullable://nginx@sha256:${hex('1')}`), `sha256:${hex('1')}`);
  assert.equal(imageDigestOf(`sha256:${hex('2')}`), `sha256:${hex('2')}`);
  assert.equal(imageDigestOf('docker.io/library/nginx:1.27'), '');
  assert.equal(podSummary({ metadata: { name: 'x', namespace: 'y' } }), undefined, 'no uid');
  const long = podSummary(
    podObject({
      name: 'p'.repeat(400),
      uid: 'u',
      statuses: [running('c', `containerd://${hex('1')}`, 'i'.repeat(5000), '')],
    }),
  );
  assert.equal(long?.name.length, 253);
  assert.equal(long?.containers[0]?.image.length, 1024);
});

test('a failing sink does not hold the watch loops: records queue up to maxPending, the stop is prompt', async () => {
  const api = await fake.startFakeApi(pki, {
    tokens: [TOKEN],
    extraObjects: Array.from({ length: 30 }, (_, i) => kevent(`f${i}`, 1)),
  });
  const kube = client(api);
  const abort = new AbortController();
  let calls = 0;
  try {
    const stats = await runInventoryCollector({
      client: kube,
      sink: {
        // As the ingest client does: it retries for a while, then gives up.
        send: () => {
          calls++;
          if (calls === 1) setTimeout(() => abort.abort(), 300);
          return new Promise((_, reject) => setTimeout(() => reject(new Error('server unavailable')), 50));
        },
      },
      batchMaxItems: 1,
      maxPending: 10,
      flushIntervalMs: 60_000,
      signal: abort.signal,
      log: () => undefined,
    });
    // At most one send per loop queued before the first failure was known (they then stop
    // waiting), and one final flush at the stop; not one per record.
    assert.ok(calls >= 2 && calls <= 3, `${calls} sends`);
    assert.equal(stats.sendErrors, calls);
    assert.equal(stats.dropped, 30 + 2 - 10, '30 Events and 2 container records in a queue of 10');
  } finally {
    kube.close();
    await api.close();
  }
});

test('the listed Pods are not kept while the watch is quiet: only their summaries are', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const api = await fake.startFakeApi(pki, { tokens: [TOKEN], extraObjects: EXTRA_PODS });
  const kube = client(api);
  // The same client, noting a weak reference to each listed Pod's metadata (shared by the
  // informer's copies of the objects: alive as long as any of them is).
  const listed: Array<WeakRef<object>> = [];
  const spy = Object.create(kube) as KubeClient;
  spy.list = async (...args: Parameters<KubeClient['list']>): ReturnType<KubeClient['list']> => {
    const r = await kube.list(...args);
    if (args[2] === 'pods') for (const o of r.items) listed.push(new WeakRef(o['metadata'] as object));
    return r;
  };
  const abort = new AbortController();
  let containers = 0;
  let synced: () => void = () => undefined;
  const sent = new Promise<void>((resolve) => (synced = resolve));
  const deadline = setTimeout(() => {
    abort.abort();
    synced();
  }, 20_000);
  try {
    const run = runInventoryCollector({
      client: spy,
      sink: {
        send: (b) => {
          containers += b.containers?.length ?? 0;
          if (containers >= 8) synced(); // the recorded pods' 2 started containers and the extra pods' 6
          return Promise.resolve({});
        },
      },
      flushIntervalMs: 20,
      signal: abort.signal,
    });
    await sent;
    assert.equal(containers, 8, 'every record sent before the deadline');
    assert.equal(listed.length, 11);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    assert.deepEqual(
      listed.filter((w) => w.deref() !== undefined).length,
      0,
      'no listed Pod is reachable once its records are sent',
    );
    abort.abort();
    const stats = await run;
    assert.equal(stats.pods, 11, 'the summaries are kept');
  } finally {
    clearTimeout(deadline);
    kube.close();
    await api.close();
  }
});
