// npm run bench -- inventory-pods [N…]: memory of `palisade sensor inventory` watching a cluster of
// N pods (default 0 1000 10000), each about 2 KB of JSON with two started containers, served by
// the fake API server of packages/kube in a child process. Prints, per N, the process's peak RSS
// (GNU time; the CLI runs until its list is done, sending to a server that refuses, so nothing
// else grows) and, in this process, the collector's heap once the list was sent and collected.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cli, measure, root, work } from './lib.mjs';

if (globalThis.gc === undefined) {
  // The heap figure needs a full collection first: run again with --expose-gc.
  const again = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exitCode = await new Promise((resolve) => again.on('close', (code) => resolve(code ?? 1)));
  process.exit();
}

const sizes = process.argv.slice(2).map(Number);
const NS = sizes.length > 0 ? sizes : [0, 1000, 10000];
const dir = join(work, 'inventory-pods');
mkdirSync(dir, { recursive: true });

const SERVER = `
import { pathToFileURL } from 'node:url';
const fake = await import(pathToFileURL(${JSON.stringify(join(root, 'packages/kube/dist/test/fake-apiserver.js'))}).href);
const n = Number(process.argv[2]);
const hex = (i) => i.toString(16).padStart(64, '0');
const status = (name, id, image, digest) => ({ name, containerID: 'containerd://' + hex(id), image, imageID: image.split(':')[0] + '@sha256:' + digest,
  ready: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } });
const pods = Array.from({ length: n }, (_, i) => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'app-' + (i % 500) + '-7c9d5b8f6d-' + i, namespace: 'ns-' + (i % 50), uid: 'uid-' + i, resourceVersion: '1',
    labels: { app: 'app-' + (i % 500), 'pod-template-hash': '7c9d5b8f6d', tier: 'backend' },
    annotations: { 'prometheus.io/scrape': 'true' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-' + (i % 500) + '-7c9d5b8f6d', uid: 'rs-' + (i % 500), controller: true }] },
  spec: { nodeName: 'node-' + (i % 100), serviceAccountName: 'default',
    containers: [{ name: 'app', image: 'registry.example/app:1', env: Array.from({ length: 10 }, (_, j) => ({ name: 'E' + j, value: 'x'.repeat(30) })) },
      { name: 'proxy', image: 'registry.example/proxy:2' }] },
  status: { phase: 'Running', containerStatuses: [status('app', 2 * i, 'registry.example/app:1', hex(1)), status('proxy', 2 * i + 1, 'registry.example/proxy:2', hex(2))] },
}));
const pki = fake.makePki(process.argv[3]);
const api = await fake.startFakeApi(pki, { tokens: ['bench'], extraObjects: pods });
process.stdout.write(JSON.stringify({ url: api.url, ca: pki.caCert }) + '\\n');
process.on('SIGTERM', () => void api.close().then(() => process.exit(0)));
`;
writeFileSync(join(dir, 'server.mjs'), SERVER);
writeFileSync(join(dir, 'token'), 'bench-token\n');

async function withApi(n, fn) {
  const pkiDir = join(dir, `pki-${n}`);
  mkdirSync(pkiDir, { recursive: true });
  const child = spawn(process.execPath, [join(dir, 'server.mjs'), String(n), pkiDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let out = '';
    const info = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake API server did not start in 120 s')), 120_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(JSON.parse(out.split('\n')[0]));
        }
      });
    });
    const kubeconfig = join(dir, `kubeconfig-${n}.json`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'bench',
        clusters: [
          {
            name: 'bench',
            cluster: { server: info.url, 'certificate-authority-data': readFileSync(info.ca).toString('base64') },
          },
        ],
        users: [{ name: 'bench', user: { token: 'bench' } }],
        contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
      }),
    );
    return await fn(kubeconfig);
  } finally {
    child.kill('SIGTERM');
  }
}

/** The collector in this process: its heap after the list was sent and garbage collected. */
async function heapAfterList(kubeconfig, n) {
  const { KubeClient, loadKubeconfig } = await import(
    pathToFileURL(join(root, 'packages/kube/dist/src/index.js')).href
  );
  const { runInventoryCollector } = await import(
    pathToFileURL(join(root, 'packages/sensor/dist/src/inventory.js')).href
  );
  const client = new KubeClient(loadKubeconfig({ kubeconfig }));
  const abort = new AbortController();
  let sent = 0;
  let heapMb;
  const deadline = setTimeout(() => abort.abort(), 300_000);
  await runInventoryCollector({
    client,
    sink: {
      send: (b) => {
        sent += b.containers?.length ?? 0;
        if (sent >= 2 * n + 2 && heapMb === undefined) {
          heapMb = -1;
          setTimeout(() => {
            globalThis.gc();
            heapMb = process.memoryUsage().heapUsed / 1048576;
            abort.abort();
          }, 200);
        }
        return Promise.resolve({});
      },
    },
    flushIntervalMs: 200,
    maxPods: Math.max(20_000, n + 10),
    signal: abort.signal,
  });
  clearTimeout(deadline);
  client.close();
  return heapMb;
}

for (const n of NS) {
  await withApi(n, async (kubeconfig) => {
    const seconds = String(Math.max(5, Math.ceil(n / 250)));
    const rss = await measure(process.execPath, [
      cli,
      'sensor',
      'inventory',
      '--server',
      'https://127.0.0.1:1',
      '--token-file',
      join(dir, 'token'),
      '--kubeconfig',
      kubeconfig,
      '--duration',
      seconds,
    ]);
    const heap = await heapAfterList(kubeconfig, n);
    console.log(
      `inventory-pods: ${n} pods (${2 * n} containers): peak RSS ${rss.peakMb.toFixed(0)} MB, collector heap after the list ${heap.toFixed(1)} MB`,
    );
  });
}
