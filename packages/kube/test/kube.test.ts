/**
 * Live cluster access against a fake API server (HTTPS on 127.0.0.1, throwaway CA) serving
 * recorded objects: every auth kind, paging, 410 restart, a cluster that stops answering,
 * an expired credential, and secrets never requested.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isPalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import {
  KubeClient,
  diffSnapshots,
  inClusterConfig,
  loadKubeconfig,
  readOnlyRbacManifests,
  takeSnapshot,
  type Snapshot,
} from '../src/index.js';
import { fixtureObjects, startFakeApi, type FakeApi, type LoggedRequest } from './fake-apiserver.js';
import { cleanupPki, pki, writeKubeconfig } from './helpers.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.fake-token-for-tests.c2lnbmF0dXJl';
const work = tempDir('palisade-kube-cfg-');
after(() => {
  work.cleanup();
  cleanupPki();
});

/** Recorded objects other than secrets: what a full snapshot must return. */
const EXPECTED = fixtureObjects().filter((o) => o['kind'] !== 'Secret').length;

function caData(): string {
  return readFileSync(pki().caCert).toString('base64');
}

async function withServer<T>(opts: Parameters<typeof startFakeApi>[1], fn: (api: FakeApi) => Promise<T>): Promise<T> {
  const api = await startFakeApi(pki(), opts);
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

function assertNoSecrets(log: LoggedRequest[]): void {
  assert.ok(log.length > 0);
  for (const r of log) assert.ok(!/secrets/.test(r.path), `secrets requested: ${r.path}`);
}

async function snapshotWith(kubeconfig: string, context?: string, pageSize?: number): Promise<Snapshot> {
  const client = new KubeClient(loadKubeconfig({ kubeconfig, ...(context ? { context } : {}) }));
  try {
    return await takeSnapshot(client, pageSize !== undefined ? { pageSize } : {});
  } finally {
    client.close();
  }
}

test('token auth: full snapshot of every kind served, secrets never requested', async () => {
  await withServer({ tokens: [TOKEN] }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'token.yaml',
      'kind-shop',
      api.url,
      { token: TOKEN },
      {
        'certificate-authority-data': caData(),
      },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.cluster, 'kind-shop');
    assert.equal(snap.complete, true, JSON.stringify(snap.errors));
    assert.equal(snap.objects.length, EXPECTED);
    const kinds = new Set(snap.objects.map((o) => `${String(o['apiVersion'])}/${String(o['kind'])}`));
    for (const k of [
      'v1/Node',
      'v1/Namespace',
      'apps/v1/Deployment',
      'apps/v1/ReplicaSet',
      'v1/Pod',
      'apps/v1/DaemonSet',
      'batch/v1/CronJob',
      'batch/v1/Job',
      'v1/Service',
      'networking.k8s.io/v1/Ingress',
      'networking.k8s.io/v1/NetworkPolicy',
      'v1/ServiceAccount',
      'rbac.authorization.k8s.io/v1/Role',
      'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
      'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration',
    ])
      assert.ok(kinds.has(k), `missing ${k}`);
    assert.ok(!kinds.has('v1/Secret'));
    // The Gateway API is not installed: skipped by discovery, not requested, not an error.
    assert.ok(snap.notServed.includes('gateway.networking.k8s.io/v1/Gateway'));
    assert.ok(!api.log.some((r) => r.path.includes('gateway')));
    // Image digests of running containers are kept; managedFields are dropped.
    const pod = snap.objects.find((o) => (o['metadata'] as { name: string }).name === 'web-7c9d5b8f6d-2xkqp');
    assert.match(JSON.stringify(pod), /nginx@sha256:28402db6/);
    const node = snap.objects.find((o) => o['kind'] === 'Node') as { metadata: Record<string, unknown> };
    assert.equal(node.metadata['managedFields'], undefined);
    assertNoSecrets(api.log);
    assert.ok(api.log.every((r) => r.auth === 'token'));
  });
});

test('gateway API served: gateways are listed', async () => {
  await withServer({ tokens: [TOKEN], gatewayApi: true }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'gw.yaml',
      'gw',
      api.url,
      { token: TOKEN },
      { 'certificate-authority-data': caData() },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.complete, true);
    assert.ok(api.log.some((r) => r.path === '/apis/gateway.networking.k8s.io/v1/gateways'));
  });
});

test('client certificate auth, CA and cert from files relative to the kubeconfig', async () => {
  await withServer({ acceptClientCerts: true }, async (api) => {
    const p = pki();
    const cfg = writeKubeconfig(
      p.dir,
      'certs.yaml',
      'admin@kind',
      api.url,
      { 'client-certificate': 'client.crt', 'client-key': 'client.key' },
      { 'certificate-authority': 'ca.crt' },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.complete, true, JSON.stringify(snap.errors));
    assert.equal(snap.objects.length, EXPECTED);
    assert.ok(api.log.every((r) => r.auth === 'cert'));
  });
});

test('client certificate as -data fields', async () => {
  await withServer({ acceptClientCerts: true }, async (api) => {
    const p = pki();
    const cfg = writeKubeconfig(
      work.path,
      'certdata.yaml',
      'c',
      api.url,
      {
        'client-certificate-data': readFileSync(p.clientCert).toString('base64'),
        'client-key-data': readFileSync(p.clientKey).toString('base64'),
      },
      { 'certificate-authority-data': caData() },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.complete, true);
  });
});

test('basic auth and tokenFile', async () => {
  await withServer({ basic: { username: 'admin', password: 's3cret' }, tokens: [TOKEN] }, async (api) => {
    const basic = writeKubeconfig(
      work.path,
      'basic.yaml',
      'b',
      api.url,
      { username: 'admin', password: 's3cret' },
      {
        'certificate-authority-data': caData(),
      },
    );
    assert.equal((await snapshotWith(basic)).complete, true);
    writeFileSync(join(work.path, 'token'), TOKEN + '\n');
    const tf = writeKubeconfig(
      work.path,
      'tf.yaml',
      't',
      api.url,
      { tokenFile: 'token' },
      {
        'certificate-authority-data': caData(),
      },
    );
    assert.equal((await snapshotWith(tf)).complete, true);
    assert.ok(api.log.some((r) => r.auth === 'basic') && api.log.some((r) => r.auth === 'token'));
  });
});

test('exec credential plugin (client.authentication.k8s.io/v1)', async () => {
  await withServer({ tokens: [TOKEN] }, async (api) => {
    const script = join(work.path, 'get-token.sh');
    const counter = join(work.path, 'exec-count');
    writeFileSync(
      script,
      `#!/bin/sh
# A credential plugin as cloud CLIs ship them: prints one ExecCredential on stdout.
[ -n "$KUBERNETES_EXEC_INFO" ] || exit 3
echo run >> "${counter}"
cat <<JSON
{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"$PLUGIN_TOKEN","expirationTimestamp":"2999-01-01T00:00:00Z"}}
JSON
`,
    );
    chmodSync(script, 0o755);
    const cfg = writeKubeconfig(
      work.path,
      'exec.yaml',
      'eks',
      api.url,
      {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: './get-token.sh',
          args: [],
          env: [{ name: 'PLUGIN_TOKEN', value: TOKEN }],
          interactiveMode: 'Never',
        },
      },
      { 'certificate-authority-data': caData() },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.complete, true, JSON.stringify(snap.errors));
    assert.ok(api.log.every((r) => r.auth === 'token'));
    // A credential valid until its expiry is reused, not fetched per request.
    assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 1);
  });
});

test('exec credential rejected before its expiry: the plugin is run again once', async () => {
  await withServer({ tokens: [TOKEN] }, async (api) => {
    const script = join(work.path, 'rotating.sh');
    const counter = join(work.path, 'rotating-count');
    // First run hands out a revoked token, later runs the current one.
    writeFileSync(
      script,
      `#!/bin/sh
if [ -f "${counter}" ]; then T="${TOKEN}"; else T=revoked; fi
echo run >> "${counter}"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$T"
`,
    );
    chmodSync(script, 0o755);
    const cfg = writeKubeconfig(
      work.path,
      'rotating.yaml',
      'r',
      api.url,
      { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: script } },
      { 'certificate-authority-data': caData() },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.complete, true, JSON.stringify(snap.errors));
    assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 2);
  });
});

test('403 on one kind: that kind is named in errors, the others are read', async () => {
  await withServer({ tokens: [TOKEN], forbid: ['clusterroles'] }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'rbac.yaml',
      'locked',
      api.url,
      { token: TOKEN },
      {
        'certificate-authority-data': caData(),
      },
    );
    const snap = await snapshotWith(cfg);
    assert.equal(snap.complete, false);
    assert.equal(snap.errors.length, 1);
    assert.equal(snap.errors[0]?.kind, 'rbac.authorization.k8s.io/v1/ClusterRole');
    assert.match(
      snap.errors[0]?.message ?? '',
      /cluster locked: clusterroles: credential rejected: not allowed \(HTTP 403/,
    );
    assert.ok(snap.objects.some((o) => o['kind'] === 'ClusterRoleBinding'));
  });
});

test('exec plugin that hangs is killed after its timeout', async () => {
  const script = join(work.path, 'hang.sh');
  writeFileSync(script, '#!/bin/sh\nexec sleep 30\n');
  chmodSync(script, 0o755);
  const cfg = writeKubeconfig(work.path, 'hang.yaml', 'h', 'https://127.0.0.1:1', {
    exec: { apiVersion: 'client.authentication.k8s.io/v1', command: script },
  });
  const client = new KubeClient(loadKubeconfig({ kubeconfig: cfg }), { execTimeoutMs: 200 });
  await assert.rejects(takeSnapshot(client), (err: unknown) => isPalisadeError(err) && err.code === 'E_TIMEOUT');
  client.close();
});

test('paging: small pages follow continue tokens to the end', async () => {
  await withServer({ tokens: [TOKEN] }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'page.yaml',
      'p',
      api.url,
      { token: TOKEN },
      { 'certificate-authority-data': caData() },
    );
    const snap = await snapshotWith(cfg, undefined, 2);
    assert.equal(snap.complete, true);
    assert.equal(snap.objects.length, EXPECTED);
    const pods = api.log.filter((r) => r.resource === 'pods');
    assert.equal(pods.length, 3, 'five pods in pages of two');
    assert.ok(pods.every((r) => r.limit === 2));
    assert.equal(pods[0]?.continue, undefined);
    assert.ok(pods[1]?.continue && pods[2]?.continue);
    const names = snap.objects.filter((o) => o['kind'] === 'Pod').map((o) => (o['metadata'] as { name: string }).name);
    assert.equal(new Set(names).size, 5);
  });
});

test('410 Gone on continue: the list restarts once, without duplicates', async () => {
  await withServer({ tokens: [TOKEN], goneOnce: ['pods'] }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'gone.yaml',
      'g',
      api.url,
      { token: TOKEN },
      { 'certificate-authority-data': caData() },
    );
    const snap = await snapshotWith(cfg, undefined, 2);
    assert.equal(snap.complete, true, JSON.stringify(snap.errors));
    const pods = snap.objects.filter((o) => o['kind'] === 'Pod');
    assert.equal(pods.length, 5);
    const first = api.log.filter((r) => r.resource === 'pods' && r.continue === undefined);
    assert.equal(first.length, 2, 'restarted from the first page');
  });
});

test('a cluster that stops answering mid-list: snapshot incomplete, failing kind named', async () => {
  await withServer({ tokens: [TOKEN], hang: { resource: 'pods', page: 2 } }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'hangs.yaml',
      'flaky',
      api.url,
      { token: TOKEN },
      { 'certificate-authority-data': caData() },
    );
    const client = new KubeClient(loadKubeconfig({ kubeconfig: cfg }), { requestTimeoutMs: 300 });
    const snap = await takeSnapshot(client, { pageSize: 2 });
    client.close();
    assert.equal(snap.complete, false);
    assert.equal(snap.errors[0]?.kind, 'v1/Pod');
    assert.match(snap.errors[0]?.message ?? '', /cluster flaky: pods: API server did not answer/);
    // The kinds after the failure are named as not listed, never silently missing.
    assert.ok(snap.errors.some((e) => e.kind === 'apps/v1/Deployment' && /not listed/.test(e.message)));
    assert.ok(!snap.objects.some((o) => o['kind'] === 'Pod'), 'no partial list of pods kept');
  });
});

test('401: expired credential is a clear E_AUTH naming cluster and resource, token never shown', async () => {
  await withServer({ tokens: ['another-token'] }, async (api) => {
    const cfg = writeKubeconfig(
      work.path,
      'expired.yaml',
      'prod-eu',
      api.url,
      { token: TOKEN },
      { 'certificate-authority-data': caData() },
    );
    const client = new KubeClient(loadKubeconfig({ kubeconfig: cfg }));
    await assert.rejects(takeSnapshot(client), (err: unknown) => {
      assert.ok(isPalisadeError(err));
      assert.equal(err.code, 'E_AUTH');
      const text = err.describe();
      assert.match(text, /cluster prod-eu: discovery \/api: credential expired or rejected \(HTTP 401/);
      assert.ok(!text.includes(TOKEN) && !String(err.stack).includes(TOKEN));
      return true;
    });
    client.close();
  });
});

test('untrusted server certificate is refused unless insecure-skip-tls-verify', async () => {
  await withServer({ tokens: [TOKEN] }, async (api) => {
    const cfg = writeKubeconfig(work.path, 'noca.yaml', 'n', api.url, { token: TOKEN });
    const client = new KubeClient(loadKubeconfig({ kubeconfig: cfg }));
    await assert.rejects(takeSnapshot(client), (err: unknown) => isPalisadeError(err) && err.code === 'E_NETWORK');
    client.close();
    const insecure = writeKubeconfig(
      work.path,
      'insecure.yaml',
      'i',
      api.url,
      { token: TOKEN },
      { 'insecure-skip-tls-verify': true },
    );
    assert.equal((await snapshotWith(insecure)).complete, true);
  });
});

test('KUBECONFIG with several files merges as kubectl does; --context selects', () => {
  const a = join(work.path, 'a.yaml');
  const b = join(work.path, 'b.yaml');
  writeFileSync(
    a,
    `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster: { server: "https://127.0.0.1:7001", insecure-skip-tls-verify: true }
contexts:
- name: dev
  context: { cluster: dev, user: dev }
users:
- name: dev
  user: { token: dev-token }
`,
  );
  writeFileSync(
    b,
    `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: dev
  cluster: { server: "https://127.0.0.1:9999" }
- name: prod
  cluster: { server: "https://127.0.0.1:7002/" }
contexts:
- name: prod
  context: { cluster: prod, user: prod }
users:
- name: prod
  user: { token: prod-token }
`,
  );
  const env = { KUBECONFIG: [a, join(work.path, 'missing.yaml'), b].join(':'), HOME: work.path };
  const dev = loadKubeconfig({ env });
  assert.equal(dev.name, 'dev', 'first file sets current-context');
  assert.equal(dev.server, 'https://127.0.0.1:7001', 'first definition of a cluster wins');
  assert.equal(dev.auth.token, 'dev-token');
  const prod = loadKubeconfig({ env, context: 'prod' });
  assert.equal(prod.server, 'https://127.0.0.1:7002');
  assert.throws(
    () => loadKubeconfig({ env, context: 'staging' }),
    (err: unknown) => isPalisadeError(err) && /context "staging" not found \(known: dev, prod\)/.test(err.message),
  );
  assert.throws(
    () => loadKubeconfig({ kubeconfig: join(work.path, 'missing.yaml') }),
    (err: unknown) => isPalisadeError(err) && err.code === 'E_CONFIG',
  );
});

test('in-cluster config: service host env and the service-account files', async () => {
  await withServer({ tokens: [TOKEN] }, async (api) => {
    const sa = tempDir('palisade-sa-');
    try {
      writeFileSync(join(sa.path, 'token'), TOKEN);
      writeFileSync(join(sa.path, 'ca.crt'), readFileSync(pki().caCert));
      const port = new URL(api.url).port;
      const cfg = inClusterConfig({
        env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
        serviceAccountDir: sa.path,
      });
      assert.equal(cfg.name, 'in-cluster');
      const client = new KubeClient(cfg);
      const snap = await takeSnapshot(client, { kinds: ['Pod', 'Namespace'] });
      client.close();
      assert.equal(snap.complete, true);
      assert.deepEqual([...new Set(snap.objects.map((o) => o['kind']))].sort(), ['Namespace', 'Pod']);
    } finally {
      sa.cleanup();
    }
  });
  assert.throws(() => inClusterConfig({ env: {} }), /not running in a cluster/);
});

test('asking for secrets is refused before any request', async () => {
  const client = new KubeClient({ name: 'x', server: 'https://127.0.0.1:1', insecureSkipTlsVerify: false, auth: {} });
  await assert.rejects(takeSnapshot(client, { kinds: ['Secret'] }), /never reads secrets/);
  client.close();
});

test('diffSnapshots: added, removed, changed by uid and resourceVersion', () => {
  const objs = fixtureObjects().filter((o) => o['kind'] !== 'Secret');
  const a = { objects: objs };
  const changed = structuredClone(objs[0]) as { metadata: { resourceVersion: string } };
  changed.metadata.resourceVersion = '99999';
  const added = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'new', namespace: 'shop', uid: 'u-new', resourceVersion: '1' },
  };
  const b = { objects: [changed as unknown as Record<string, unknown>, ...objs.slice(2), added] };
  const d = diffSnapshots(a, b);
  assert.deepEqual(
    d.added.map((r) => r.name),
    ['new'],
  );
  assert.deepEqual(
    d.removed.map((r) => r.name),
    [(objs[1]?.['metadata'] as { name: string }).name],
  );
  assert.deepEqual(
    d.changed.map((r) => [r.name, r.resourceVersion]),
    [['default', '99999']],
  );
  assert.deepEqual(diffSnapshots(a, a), { added: [], removed: [], changed: [] });
});

test('readOnlyRbacManifests: ServiceAccount, read-only ClusterRole, binding; never secrets', () => {
  const docs = parseAllDocuments(readOnlyRbacManifests()).map((d) => d.toJS() as Record<string, unknown>);
  assert.deepEqual(
    docs.map((d) => d['kind']),
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'],
  );
  const rules = (docs[1] as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }).rules;
  for (const r of rules) {
    assert.deepEqual(r.verbs, ['get', 'list', 'watch']);
    assert.ok(!r.resources.includes('secrets') && !r.resources.includes('*'));
  }
  const all = rules.flatMap((r) => r.resources);
  for (const res of [
    'pods',
    'nodes',
    'deployments',
    'cronjobs',
    'networkpolicies',
    'clusterrolebindings',
    'validatingwebhookconfigurations',
    'gateways',
    'events', // the inventory collector watches them
  ])
    assert.ok(all.includes(res), res);
  const binding = docs[2] as { roleRef: { name: string }; subjects: Array<{ name: string; namespace: string }> };
  assert.equal(binding.roleRef.name, 'palisade-reader');
  assert.deepEqual(binding.subjects[0], { kind: 'ServiceAccount', name: 'palisade-reader', namespace: 'palisade' });
});
