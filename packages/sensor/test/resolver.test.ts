/**
 * Container resolvers without a live runtime: the cache (TTL, negative caching, LRU,
 * one lookup in flight), the chain, event enrichment, containerd/CRI-O on-disk state, and
 * the Kubernetes resolver against a recorded API served over HTTP on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PalisadeError, type ProcessExecEvent } from '@palisade/core';
import { KubeClient } from '@palisade/kube';
import { tempDir } from '@palisade/testkit';
import {
  CachedResolver,
  ChainResolver,
  ContainerdStateResolver,
  CrioStateResolver,
  KubernetesResolver,
  enrichEvent,
  enrichStage,
  parseContainerId,
  pickRepoDigest,
  fromLibpodInspect,
  type ContainerContextResolver,
  type ResolvedContainer,
} from '../src/index.js';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);

function fakeResolver(
  answers: Record<string, ResolvedContainer | 'throw'>,
  delayMs = 0,
): ContainerContextResolver & { calls: string[] } {
  const calls: string[] = [];
  return {
    id: 'fake',
    calls,
    async resolve(id: string): Promise<ResolvedContainer | undefined> {
      calls.push(id);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const a = answers[id];
      if (a === 'throw') throw new PalisadeError('E_NETWORK', 'runtime API broken', { subject: 'fake' });
      return a;
    },
  };
}

function resolved(id: string, name: string, source = 'fake'): ResolvedContainer {
  return {
    id,
    name,
    image: `docker.io/library/${name}:1`,
    imageDigest: `sha256:${'c'.repeat(64)}`,
    runtime: 'podman',
    source,
  };
}

function execEvent(containerId?: string): ProcessExecEvent {
  const ev: ProcessExecEvent = {
    id: 'e1',
    type: 'process.exec',
    time: '2025-05-01T10:00:00.000Z',
    node: 'n1',
    proc: {
      pid: 10,
      ppid: 1,
      uid: 0,
      gid: 0,
      exe: '/bin/sh',
      name: 'sh',
      argv: ['/bin/sh'],
      cwd: '',
      tty: 0,
      ancestry: [],
    },
  };
  if (containerId)
    ev.container = { id: containerId, name: '', image: '', imageDigest: '', runtime: 'podman', resolved: false };
  return ev;
}

test('cache: answers reused until their TTL, misses until the shorter negative TTL', async () => {
  let now = 1000;
  const inner = fakeResolver({ [ID_A]: resolved(ID_A, 'web') });
  const cache = new CachedResolver(inner, { ttlMs: 60_000, negativeTtlMs: 5_000, now: () => now });
  assert.equal((await cache.resolve(ID_A))?.name, 'web');
  assert.equal(await cache.resolve(ID_B), undefined);
  now += 4_000;
  await cache.resolve(ID_A);
  await cache.resolve(ID_B);
  assert.deepEqual(inner.calls, [ID_A, ID_B], 'both answered from the cache');
  now += 2_000; // 6 s: the miss expired, the answer did not
  await cache.resolve(ID_A);
  await cache.resolve(ID_B);
  assert.deepEqual(inner.calls, [ID_A, ID_B, ID_B]);
  now += 60_000;
  await cache.resolve(ID_A);
  assert.deepEqual(inner.calls, [ID_A, ID_B, ID_B, ID_A]);
  const s = cache.stats();
  assert.equal(s.hits, 2);
  assert.equal(s.negativeHits, 1);
  assert.equal(s.lookups, 4);
  assert.equal(s.resolved, 2);
  assert.equal(s.unresolved, 2);
});

test('cache: least recently used entries go first; one lookup in flight per id; errors count as misses', async () => {
  const ids = ['1', '2', '3'].map((c) => c.repeat(64));
  const inner = fakeResolver(Object.fromEntries(ids.map((id) => [id, resolved(id, `c${id[0]}`)])), 5);
  const cache = new CachedResolver(inner, { maxEntries: 2 });
  await Promise.all([cache.resolve(ids[0] ?? ''), cache.resolve(ids[0] ?? ''), cache.resolve(ids[0] ?? '')]);
  assert.equal(inner.calls.length, 1, 'concurrent misses share one lookup');
  await cache.resolve(ids[1] ?? '');
  assert.ok(cache.lookup(ids[0] ?? ''), 'touch id 0 so id 1 is the least recently used');
  await cache.resolve(ids[2] ?? '');
  assert.equal(cache.lookup(ids[1] ?? ''), undefined, 'id 1 evicted');
  assert.ok(cache.lookup(ids[0] ?? ''));
  assert.equal(cache.stats().size, 2);

  const broken = new CachedResolver(fakeResolver({ [ID_A]: 'throw' }));
  assert.equal(await broken.resolve(ID_A), undefined);
  assert.equal(broken.stats().errors, 1);
  assert.match(broken.stats().lastError ?? '', /runtime API broken/);
  assert.equal(broken.lookup(ID_A), null, 'a failed lookup is negatively cached');
});

test('chain: first answer wins, a broken resolver is skipped and its error kept', async () => {
  const first = fakeResolver({ [ID_A]: 'throw' });
  const second = fakeResolver({ [ID_A]: resolved(ID_A, 'from-second', 'second'), [ID_B]: resolved(ID_B, 'b') });
  const third = fakeResolver({ [ID_B]: resolved(ID_B, 'never') });
  const chain = new ChainResolver([first, second, third]);
  assert.equal((await chain.resolve(ID_A))?.source, 'second');
  assert.equal((await chain.resolve(ID_B))?.name, 'b');
  assert.deepEqual(third.calls, [], 'not asked once an earlier resolver answered');
  assert.equal(chain.errors.length, 1);
  assert.match(chain.errors[0]?.message ?? '', /broken/);
});

test('enrichEvent: resolved, unresolved (id kept, resolved=false) and host events', async () => {
  const k8s = { pod: 'web-1', namespace: 'shop', workloadKind: 'Deployment', workloadName: 'web' };
  const cache = new CachedResolver(
    fakeResolver({ [ID_A]: { ...resolved(ID_A, 'web'), privileged: true, runtime: 'containerd', k8s } }),
  );
  const input = execEvent(ID_A);
  const out = await enrichEvent(input, cache);
  assert.deepEqual(out.container, {
    id: ID_A,
    name: 'web',
    image: 'docker.io/library/web:1',
    imageDigest: `sha256:${'c'.repeat(64)}`,
    runtime: 'podman', // the cgroup's runtime is kept
    resolved: true,
    privileged: true,
  });
  assert.deepEqual(out.k8s, k8s);
  assert.equal(input.container?.resolved, false, 'the input event is not modified');

  const un = await enrichEvent(execEvent(ID_B), cache);
  assert.deepEqual(un.container, {
    id: ID_B,
    name: '',
    image: '',
    imageDigest: '',
    runtime: 'podman',
    resolved: false,
  });
  assert.equal(un.k8s, undefined);
  const host = execEvent();
  assert.equal(await enrichEvent(host, cache), host);

  async function* two(): AsyncGenerator<ProcessExecEvent> {
    yield execEvent(ID_A);
    yield execEvent(ID_B);
  }
  const staged: boolean[] = [];
  for await (const e of enrichStage(two(), cache)) staged.push(e.container?.resolved ?? false);
  assert.deepEqual(staged, [true, false]);
});

test('syncResolver: a miss starts a lookup, later calls answer from the cache', async () => {
  const inner = fakeResolver({ [ID_A]: resolved(ID_A, 'web') });
  const cache = new CachedResolver(inner);
  const sync = cache.syncResolver();
  assert.equal(sync({ id: ID_A, runtime: 'podman' }), undefined);
  await cache.resolve(ID_A); // joins the lookup the miss started
  assert.equal(inner.calls.length, 1);
  assert.deepEqual(sync({ id: ID_A, runtime: 'podman' }), {
    name: 'web',
    image: 'docker.io/library/web:1',
    imageDigest: `sha256:${'c'.repeat(64)}`,
  });
});

test('libpod and Docker documents map to name, image, digest and privileged', () => {
  const r = fromLibpodInspect(
    {
      Id: ID_A,
      Name: 'drift-probe',
      ImageName: 'localhost/app:1',
      Image: 'd'.repeat(64),
      ImageDigest: `sha256:${'e'.repeat(64)}`,
      HostConfig: { Privileged: true },
    },
    'podman',
  );
  assert.deepEqual(r, {
    id: ID_A,
    name: 'drift-probe',
    image: 'localhost/app:1',
    imageDigest: `sha256:${'e'.repeat(64)}`,
    runtime: 'podman',
    source: 'podman',
    privileged: true,
  });
  assert.equal(fromLibpodInspect({ Id: 'not-an-id' }, 'podman'), undefined);
  assert.equal(fromLibpodInspect('garbage', 'podman'), undefined);
  const d1 = `sha256:${'1'.repeat(64)}`;
  const d2 = `sha256:${'2'.repeat(64)}`;
  assert.equal(
    pickRepoDigest('docker.io/library/nginx:1.27', [`quay.io/x/nginx@${d1}`, `docker.io/library/nginx@${d2}`]),
    d2,
  );
  assert.equal(pickRepoDigest('localhost:5000/app:1', [`localhost:5000/app@${d1}`]), d1);
  assert.equal(pickRepoDigest('app', []), '');
});

test('containerd and CRI-O on-disk state: annotations give name, image, pod and namespace', async () => {
  const t = tempDir('palisade-oci-state-');
  try {
    const ctrdRoot = join(t.path, 'containerd');
    const bundle = join(ctrdRoot, 'k8s.io', ID_A);
    mkdirSync(bundle, { recursive: true });
    mkdirSync(join(ctrdRoot, 'moby'), { recursive: true });
    writeFileSync(
      join(bundle, 'config.json'),
      JSON.stringify({
        ociVersion: '1.1.0',
        process: { args: ['nginx', '-g', 'daemon off;'] },
        annotations: {
          'io.kubernetes.cri.container-type': 'container',
          'io.kubernetes.cri.container-name': 'nginx',
          'io.kubernetes.cri.image-name': 'docker.io/library/nginx:1.27',
          'io.kubernetes.cri.sandbox-id': 'f'.repeat(64),
          'io.kubernetes.cri.sandbox-name': 'web-7d4b9c8f6d-x2x7q',
          'io.kubernetes.cri.sandbox-namespace': 'shop',
          'io.kubernetes.cri.sandbox-uid': '6f1c2b7e-3d4a-4e5f-8a9b-0c1d2e3f4a5b',
        },
      }),
    );
    const sandbox = join(ctrdRoot, 'k8s.io', ID_B);
    mkdirSync(sandbox, { recursive: true });
    writeFileSync(
      join(sandbox, 'config.json'),
      JSON.stringify({ annotations: { 'io.kubernetes.cri.container-type': 'sandbox' } }),
    );
    const ctrd = new ContainerdStateResolver({ taskRoot: ctrdRoot });
    assert.deepEqual(await ctrd.resolve(ID_A), {
      id: ID_A,
      name: 'nginx',
      image: 'docker.io/library/nginx:1.27',
      imageDigest: '',
      runtime: 'containerd',
      source: 'containerd-state',
      k8s: { pod: 'web-7d4b9c8f6d-x2x7q', namespace: 'shop' },
    });
    assert.equal(await ctrd.resolve(ID_B), undefined, 'pod sandboxes are not containers');
    assert.equal(await ctrd.resolve('c'.repeat(64)), undefined);
    assert.equal(await ctrd.resolve('../../etc'), undefined, 'ids are validated before any path is built');
    assert.equal(await new ContainerdStateResolver({ taskRoot: join(t.path, 'absent') }).resolve(ID_A), undefined);

    const crioRoot = join(t.path, 'crio');
    const userdata = join(crioRoot, 'overlay-containers', ID_B, 'userdata');
    mkdirSync(userdata, { recursive: true });
    writeFileSync(
      join(userdata, 'config.json'),
      JSON.stringify({
        annotations: {
          'io.kubernetes.cri-o.ContainerType': 'container',
          'io.kubernetes.cri-o.ImageName': 'registry.example.com/batch/report:5',
          'io.kubernetes.cri-o.ImageRef': `registry.example.com/batch/report@sha256:${'9'.repeat(64)}`,
          'io.kubernetes.cri-o.PrivilegedRuntime': 'false',
          'io.kubernetes.container.name': 'report',
          'io.kubernetes.pod.name': 'report-28930140-k9z8w',
          'io.kubernetes.pod.namespace': 'batch',
        },
      }),
    );
    // podman uses the same layout without CRI-O's annotations: not CRI-O's container.
    const podmanLike = join(crioRoot, 'overlay-containers', ID_A, 'userdata');
    mkdirSync(podmanLike, { recursive: true });
    writeFileSync(
      join(podmanLike, 'config.json'),
      JSON.stringify({ annotations: { 'io.container.manager': 'libpod' } }),
    );
    const crio = new CrioStateResolver({ runRoot: crioRoot });
    assert.deepEqual(await crio.resolve(ID_B), {
      id: ID_B,
      name: 'report',
      image: 'registry.example.com/batch/report:5',
      imageDigest: `sha256:${'9'.repeat(64)}`,
      runtime: 'cri-o',
      source: 'crio-state',
      privileged: false,
      k8s: { pod: 'report-28930140-k9z8w', namespace: 'batch' },
    });
    assert.equal(await crio.resolve(ID_A), undefined);

    writeFileSync(join(userdata, 'config.json'), '{not json');
    await assert.rejects(
      crio.resolve(ID_B),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_CORRUPT' && /config\.json/.test(e.describe()),
    );
  } finally {
    t.cleanup();
  }
});

test('on-disk OCI specs: links, FIFOs, devices and oversized files are refused before being read', async () => {
  const t = tempDir('palisade-oci-hostile-');
  try {
    const root = join(t.path, 'containerd');
    const resolver = new ContainerdStateResolver({ taskRoot: root });
    const spec = (id: string): string => {
      mkdirSync(join(root, 'k8s.io', id), { recursive: true });
      return join(root, 'k8s.io', id, 'config.json');
    };
    const refused = async (id: string, code: string, re: RegExp): Promise<void> => {
      await assert.rejects(resolver.resolve(id), (e: unknown) => {
        assert.ok(e instanceof PalisadeError, String(e));
        assert.equal(e.code, code);
        assert.match(e.describe(), re);
        assert.ok(e.describe().includes(id), 'names the file');
        return true;
      });
    };
    // A link to a good spec elsewhere: runtimes write a plain file, a link is not followed.
    const elsewhere = join(t.path, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify({ annotations: { 'io.kubernetes.cri.container-name': 'x' } }));
    symlinkSync(elsewhere, spec('1'.repeat(64)));
    await refused('1'.repeat(64), 'E_CORRUPT', /symbolic link/);
    // A FIFO: opening it must not wait for a writer.
    execFileSync('mkfifo', [spec('2'.repeat(64))]);
    await refused('2'.repeat(64), 'E_CORRUPT', /not a regular file/);
    // One byte over the limit: refused by its size, not read.
    writeFileSync(spec('3'.repeat(64)), Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
    await refused('3'.repeat(64), 'E_TOO_LARGE', /larger than 4194304 bytes/);
    if (process.getuid?.() === 0) {
      // A character device that never ends (/dev/zero's numbers): refused at fstat.
      execFileSync('mknod', [spec('4'.repeat(64)), 'c', '1', '5']);
      await refused('4'.repeat(64), 'E_CORRUPT', /not a regular file/);
    }
    // A spec exactly at the limit is still read.
    const big = JSON.stringify({ annotations: { 'io.kubernetes.cri.container-name': 'big' } });
    writeFileSync(spec('5'.repeat(64)), big + ' '.repeat(4 * 1024 * 1024 - big.length));
    assert.equal((await resolver.resolve('5'.repeat(64)))?.name, 'big');
  } finally {
    t.cleanup();
  }
});

// ---- Kubernetes against a recorded API ----

type Obj = Record<string, unknown>;
interface Recorded {
  pods: Obj[];
  latePod: Obj;
  owners: Obj[];
}
const recorded = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../test/fixtures/k8s-node-pods.json', import.meta.url)), 'utf8'),
) as Recorded;

interface FakeApi {
  url: string;
  log: URL[];
  pods: Obj[];
  close(): Promise<void>;
}

/** Serves the recorded pods like an API server: fieldSelector on spec.nodeName, owners by name. */
async function fakeApi(opts: { forbidOwners?: boolean; brokenList?: boolean } = {}): Promise<FakeApi> {
  const pods = structuredClone(recorded.pods);
  const log: URL[] = [];
  let rv = 1000;
  const send = (res: ServerResponse, code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    log.push(url);
    if (req.headers['authorization'] !== 'Bearer node-token') {
      send(res, 401, { kind: 'Status', message: 'Unauthorized' });
      return;
    }
    if (url.pathname === '/api/v1/pods') {
      if (opts.brokenList) {
        send(res, 200, { kind: 'PodList', metadata: {} });
        return;
      }
      const sel = url.searchParams.get('fieldSelector') ?? '';
      const node = sel.startsWith('spec.nodeName=') ? sel.slice('spec.nodeName='.length) : undefined;
      const items = pods.filter((p) => node === undefined || (p['spec'] as Obj)['nodeName'] === node);
      send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(++rv) }, items });
      return;
    }
    const m = /^\/apis\/(apps\/v1|batch\/v1)\/namespaces\/([^/]+)\/(replicasets|jobs)\/([^/]+)$/.exec(url.pathname);
    if (m) {
      if (opts.forbidOwners) {
        send(res, 403, { kind: 'Status', message: `${m[3]} is forbidden` });
        return;
      }
      const kind = m[3] === 'replicasets' ? 'ReplicaSet' : 'Job';
      const o = recorded.owners.find(
        (x) =>
          x['kind'] === kind && (x['metadata'] as Obj)['name'] === m[4] && (x['metadata'] as Obj)['namespace'] === m[2],
      );
      if (o) send(res, 200, o);
      else send(res, 404, { kind: 'Status', message: 'not found' });
      return;
    }
    send(res, 404, { kind: 'Status', message: 'the server could not find the requested resource' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    pods,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function client(url: string): KubeClient {
  return new KubeClient({ name: 'test', server: url, insecureSkipTlsVerify: false, auth: { token: 'node-token' } });
}

const WEB = '11111111' + 'a1b2c3d4'.repeat(7);
const REPORT = '22222222' + 'b1c2d3e4'.repeat(7);
const EXPORTER = '33333333' + 'c1d2e3f4'.repeat(7);
const MIGRATE = '44444444' + 'd1e2f3a4'.repeat(7);

test('kubernetes: pods of this node by container id, workloads through ReplicaSet and Job', async () => {
  const api = await fakeApi();
  const kc = client(api.url);
  let now = 0;
  const k = new KubernetesResolver({ client: kc, nodeName: 'worker-1', relistIntervalMs: 0, now: () => now });
  try {
    await k.start();
    assert.equal(k.size, 4, 'three running pods of worker-1: 3 containers + 1 init container with ids');
    const first = api.log[0];
    assert.equal(first?.pathname, '/api/v1/pods');
    assert.equal(first?.searchParams.get('fieldSelector'), 'spec.nodeName=worker-1');

    assert.deepEqual(await k.resolve(WEB), {
      id: WEB,
      name: 'nginx',
      image: 'docker.io/library/nginx:1.27',
      imageDigest: `sha256:${'e3b0c442'.repeat(8)}`,
      runtime: 'containerd',
      source: 'kubernetes',
      privileged: false,
      k8s: {
        pod: 'web-7d4b9c8f6d-x2x7q',
        namespace: 'shop',
        workloadKind: 'Deployment',
        workloadName: 'web',
        serviceAccount: 'web',
      },
    });
    const report = await k.resolve(REPORT);
    assert.equal(report?.runtime, 'cri-o');
    assert.deepEqual(report?.k8s, {
      pod: 'report-28930140-k9z8w',
      namespace: 'batch',
      workloadKind: 'CronJob',
      workloadName: 'report',
      serviceAccount: 'reporter',
    });
    const exporter = await k.resolve(EXPORTER);
    assert.equal(exporter?.runtime, 'docker');
    assert.equal(exporter?.privileged, true);
    assert.equal(exporter?.imageDigest, `sha256:${'2c26b46b'.repeat(8)}`, 'docker-pullable:// imageID');
    assert.deepEqual(
      { kind: exporter?.k8s?.workloadKind, name: exporter?.k8s?.workloadName },
      { kind: 'DaemonSet', name: 'node-exporter' },
    );
    assert.equal((await k.resolve(MIGRATE))?.name, 'migrate', 'init containers are indexed too');
    assert.equal(await k.resolve('5'.repeat(64)), undefined, "another node's pod is not this node's");

    // A pod that starts after the list: the miss relists (once per minRelistMs).
    api.pods.push(structuredClone(recorded.latePod));
    const listsBefore = api.log.filter((u) => u.pathname === '/api/v1/pods').length;
    now += 500;
    assert.equal(await k.resolve('6'.repeat(64)), undefined, 'within minRelistMs: no relist');
    now += 2000;
    const late = await k.resolve('6'.repeat(64));
    assert.deepEqual(
      late?.k8s,
      { pod: 'debug', namespace: 'default', serviceAccount: 'default' },
      'bare pod: no workload',
    );
    const lists = api.log.filter((u) => u.pathname === '/api/v1/pods');
    assert.equal(lists.length, listsBefore + 1);
    const relist = lists.at(-1);
    assert.equal(relist?.searchParams.get('resourceVersionMatch'), 'NotOlderThan');
    assert.match(relist?.searchParams.get('resourceVersion') ?? '', /^\d+$/);
    // The owner lookups were cached: one GET per ReplicaSet/Job however often pods are relisted.
    assert.equal(api.log.filter((u) => u.pathname.includes('/replicasets/')).length, 1);
  } finally {
    k.close();
    kc.close();
    await api.close();
  }
});

test('kubernetes: owners not readable → Deployment from the pod-template-hash, Job kept', async () => {
  const api = await fakeApi({ forbidOwners: true });
  const kc = client(api.url);
  const k = new KubernetesResolver({ client: kc, nodeName: 'worker-1', relistIntervalMs: 0 });
  try {
    await k.start();
    const web = await k.resolve(WEB);
    assert.deepEqual([web?.k8s?.workloadKind, web?.k8s?.workloadName], ['Deployment', 'web']);
    const report = await k.resolve(REPORT);
    assert.deepEqual([report?.k8s?.workloadKind, report?.k8s?.workloadName], ['Job', 'report-28930140']);
  } finally {
    k.close();
    kc.close();
    await api.close();
  }
});

test('kubernetes: bad node name, broken list and refused credentials are clear errors', async () => {
  const kc0 = client('http://127.0.0.1:1');
  assert.throws(
    () => new KubernetesResolver({ client: kc0, nodeName: 'Worker_1/../x' }),
    (e: unknown) =>
      e instanceof PalisadeError && e.code === 'E_INPUT' && /not a valid Kubernetes node name/.test(e.message),
  );
  kc0.close();

  const api = await fakeApi({ brokenList: true });
  const kc = client(api.url);
  const k = new KubernetesResolver({ client: kc, nodeName: 'worker-1', relistIntervalMs: 0 });
  try {
    await assert.rejects(k.start(), (e: unknown) => e instanceof PalisadeError && e.code === 'E_CORRUPT');
    assert.equal(k.stats.errors, 1);
    // Through the cache the failure is an unresolved container, counted, never a crash.
    const cache = new CachedResolver(new ChainResolver([k]));
    const ev = await enrichEvent(execEvent(WEB), cache);
    assert.equal(ev.container?.resolved, false);
    assert.equal(ev.container?.id, WEB);
  } finally {
    k.close();
    kc.close();
    await api.close();
  }

  const api2 = await fakeApi();
  const bad = new KubeClient({
    name: 'test',
    server: api2.url,
    insecureSkipTlsVerify: false,
    auth: { token: 'wrong' },
  });
  const k2 = new KubernetesResolver({ client: bad, nodeName: 'worker-1', relistIntervalMs: 0 });
  try {
    await assert.rejects(k2.start(), (e: unknown) => e instanceof PalisadeError && e.code === 'E_AUTH');
  } finally {
    k2.close();
    bad.close();
    await api2.close();
  }
});

test('container ids from pod status: scheme → runtime', () => {
  assert.deepEqual(parseContainerId(`containerd://${ID_A}`), { id: ID_A, runtime: 'containerd' });
  assert.deepEqual(parseContainerId(`cri-o://${ID_A}`), { id: ID_A, runtime: 'cri-o' });
  assert.deepEqual(parseContainerId(`docker://${ID_A}`), { id: ID_A, runtime: 'docker' });
  assert.equal(parseContainerId(''), undefined);
  assert.equal(parseContainerId(`containerd://${ID_A.slice(1)}`), undefined);
});
