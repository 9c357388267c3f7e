/**
 * `palisade sensor inventory` end to end: the CLI (in this process) reads the fake API server of
 * packages/kube (HTTPS on 127.0.0.1, the recorded cluster's Pods, ReplicaSet, Jobs and an Event)
 * and sends to a real `palisade server` (in this process, HTTPS, embedded storage) with the
 * cluster's ingest token; then a node's alert that carries only a container id shows up in
 * GET /api/v1/alerts with the pod, namespace, workload and image digest the inventory reported.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Alert, RuntimeIngestBatch } from '@palisade/core';
import { repoRoot, tempDir } from '@palisade/testkit';
import { run } from './helpers.js';

interface FakeApi {
  url: string;
  log: Array<{ path: string }>;
  close(): Promise<void>;
}
interface Pki {
  caCert: string;
  serverCert: string;
  serverKey: string;
}
interface FakeApiModule {
  makePki(dir: string): Pki;
  startFakeApi(
    pki: Pki,
    options?: { tokens?: string[]; extraObjects?: Array<Record<string, unknown>> },
  ): Promise<FakeApi>;
}

const KUBE_TOKEN = 'sha256~inventory-e2e-token-0123456789';
const ADMIN = `inventory-e2e-admin-${'x'.repeat(32)}`;
/** The container of the recorded pod shop/web-7c9d5b8f6d-2xkqp (ReplicaSet web-7c9d5b8f6d of Deployment web). */
const WEB1 = '8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';
const work = tempDir('palisade-inventory-e2e-');
let fake: FakeApiModule;
let pki: Pki;

before(async () => {
  const url = pathToFileURL(join(repoRoot(), 'packages', 'kube', 'dist', 'test', 'fake-apiserver.js')).href;
  fake = (await import(url)) as FakeApiModule;
  pki = fake.makePki(work.path);
});
after(() => work.cleanup());

function api(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      {
        method,
        ca: readFileSync(pki.caCert),
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

/** What a node's collector without API access raises: a shell in a container it knows only by id. */
function bareAlert(): Alert {
  return {
    id: 'alert-bare-1',
    ruleId: 'PAL-RT-001',
    severity: 'high',
    title: 'Interactive shell in a container',
    output: 'bash started interactively',
    fields: {},
    mitre: [],
    tags: [],
    time: '2026-11-23T12:00:00.000Z',
    events: [
      {
        id: 'ev-1',
        type: 'process.exec',
        time: '2026-11-23T12:00:00.000Z',
        node: 'kind-worker',
        proc: {
          pid: 4242,
          ppid: 4200,
          uid: 0,
          gid: 0,
          exe: '/bin/bash',
          name: 'bash',
          argv: ['bash'],
          cwd: '/',
          tty: 34816,
          ancestry: [],
        },
        container: { id: WEB1, name: '', image: '', imageDigest: '', runtime: 'containerd', resolved: false },
      },
    ],
  };
}

test('sensor inventory → server: a node alert with only a container id gets its pod, workload and image digest', async () => {
  const kubeApi = await fake.startFakeApi(pki, {
    tokens: [KUBE_TOKEN],
    extraObjects: [
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'web.1', namespace: 'shop', uid: 'ev-uid-1', resourceVersion: '9' },
        involvedObject: { kind: 'Pod', name: 'web-7c9d5b8f6d-2xkqp', namespace: 'shop' },
        reason: 'BackOff',
        message: 'Back-off restarting failed container',
        type: 'Warning',
        count: 2,
        lastTimestamp: '2026-11-23T11:59:00Z',
      },
    ],
  });
  const { loadConfig, startServer } = await import('@palisade/server');
  const env = { PALISADE_ADMIN_TOKEN: ADMIN };
  const server = await startServer(
    loadConfig({
      env,
      flags: {
        host: '127.0.0.1',
        port: '0',
        dataDir: join(work.path, 'server'),
        tlsCert: pki.serverCert,
        tlsKey: pki.serverKey,
      },
    }),
    { env, logStream: false, consoleDir: null },
  );
  try {
    const reg = await api(server.url, ADMIN, 'POST', '/api/v1/clusters', { name: 'kind' });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const { cluster, ingestToken } = reg.body as { cluster: { id: string }; ingestToken: string };
    const tokenFile = join(work.path, 'ingest.token');
    writeFileSync(tokenFile, `${ingestToken}\n`, { mode: 0o600 });
    const kubeconfig = join(work.path, 'kubeconfig.json');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'kind',
        clusters: [
          {
            name: 'kind',
            cluster: { server: kubeApi.url, 'certificate-authority-data': readFileSync(pki.caCert).toString('base64') },
          },
        ],
        users: [{ name: 'kind', user: { token: KUBE_TOKEN } }],
        contexts: [{ name: 'kind', context: { cluster: 'kind', user: 'kind' } }],
      }),
    );

    const cli = await run(
      [
        'sensor',
        'inventory',
        '--server',
        server.url,
        '--token-file',
        tokenFile,
        '--ca-file',
        pki.caCert,
        '--kubeconfig',
        kubeconfig,
        '--duration',
        '2',
      ],
      { env: { PALISADE_POD_NAME: 'palisade-inventory-0' } },
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /inventory: watching Events, Pods, ReplicaSets and Jobs of cluster kind/);
    const stats = JSON.parse(/inventory: (\{.*\})/.exec(cli.stderr)?.[1] ?? '{}') as Record<string, unknown>;
    assert.equal(stats['sent'], 1, cli.stderr);
    assert.equal(stats['containersSent'], 2, 'the two started containers of the recorded pods');
    assert.deepEqual(stats['refused'], []);

    // The node's publisher sends the alert (same ingest token), knowing only the container id.
    const batch: RuntimeIngestBatch = {
      batchId: 'kind-worker-1',
      source: 'collector',
      node: 'kind-worker',
      sensorVersion: '0.1.0',
      sentAt: '2026-11-23T12:00:01.000Z',
      alerts: [bareAlert()],
      events: [],
    };
    const posted = await api(server.url, ingestToken, 'POST', '/api/v1/ingest/runtime', batch);
    assert.equal(posted.status, 200, JSON.stringify(posted.body));

    const alerts = await api(server.url, ADMIN, 'GET', '/api/v1/alerts?namespace=shop');
    assert.equal(alerts.status, 200);
    const items = (alerts.body as { items: Array<Record<string, unknown>> }).items;
    assert.equal(items.length, 1);
    const a = items[0] ?? {};
    assert.deepEqual(
      [
        a['namespace'],
        a['pod'],
        a['workloadKind'],
        a['workloadName'],
        a['containerName'],
        a['image'],
        a['imageDigest'],
      ],
      [
        'shop',
        'web-7c9d5b8f6d-2xkqp',
        'Deployment',
        'web',
        'nginx',
        'docker.io/library/nginx:1.27',
        'sha256:28402db69fec7c17e179ea87882667f1e054391138f77ffaf0c3eb388efc3ffb',
      ],
    );
    const events = await api(server.url, ADMIN, 'GET', `/api/v1/runtime/kube-events?clusterId=${cluster.id}`);
    assert.deepEqual(
      (events.body as { items: Array<{ uid: string; count: number }> }).items.map((e) => [e.uid, e.count]),
      [['ev-uid-1', 2]],
    );
    assert.ok(!kubeApi.log.some((r) => r.path.includes('secrets') || r.path.includes('configmaps')));
  } finally {
    await server.close();
    await kubeApi.close();
  }
});
