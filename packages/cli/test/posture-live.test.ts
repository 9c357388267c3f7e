/**
 * `palisade posture scan --kubeconfig`: a live scan of the fake API server of packages/kube
 * (HTTPS on 127.0.0.1 serving recorded objects). Findings name the cluster; an incomplete
 * snapshot fails closed; an expired credential is one clear line without the token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, tempDir } from '@palisade/testkit';
import { run } from './helpers.js';

// The fake server is test code of @palisade/kube, not part of its public API: loaded from its
// build output by path, typed here by the little this test uses.
interface FakeApi {
  url: string;
  log: Array<{ path: string }>;
  close(): Promise<void>;
}
interface Pki {
  caCert: string;
}
interface FakeApiModule {
  makePki(dir: string): Pki;
  startFakeApi(pki: Pki, options?: { tokens?: string[]; hang?: { resource: string; page: number } }): Promise<FakeApi>;
}

interface LiveReport {
  summary: { objects: number; findings: number };
  misconfigurations: Array<{
    checkId: string;
    resource: { cluster?: string; namespace?: string; kind: string; name: string };
    source?: unknown;
  }>;
  errors: Array<{ file: string; message: string }>;
}

const TOKEN = 'sha256~live-test-token-0123456789abcdef';
const work = tempDir('palisade-live-');
let fake: FakeApiModule;
let pki: Pki;

before(async () => {
  const url = pathToFileURL(join(repoRoot(), 'packages', 'kube', 'dist', 'test', 'fake-apiserver.js')).href;
  fake = (await import(url)) as FakeApiModule;
  pki = fake.makePki(work.path);
});
after(() => work.cleanup());

function kubeconfig(file: string, server: string, token: string, context = 'kind-shop'): string {
  const path = join(work.path, file);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': context,
    clusters: [
      {
        name: context,
        cluster: { server, 'certificate-authority-data': readFileSync(pki.caCert).toString('base64') },
      },
    ],
    users: [{ name: context, user: { token } }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
  };
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

async function withApi<T>(
  options: Parameters<FakeApiModule['startFakeApi']>[1],
  fn: (api: FakeApi) => Promise<T>,
): Promise<T> {
  const api = await fake.startFakeApi(pki, options);
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

test('posture scan --kubeconfig: findings from a live snapshot name the cluster', async () => {
  await withApi({ tokens: [TOKEN] }, async (api) => {
    const cfg = kubeconfig('live.yaml', api.url, TOKEN);
    const r = await run(['posture', 'scan', '--kubeconfig', cfg, '-f', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as LiveReport;
    assert.ok(report.misconfigurations.length > 0);
    for (const m of report.misconfigurations) {
      assert.equal(m.resource.cluster, 'kind-shop');
      assert.equal(m.source, undefined, 'live findings have no file');
    }
    const has = (checkId: string, kind: string, name: string): boolean =>
      report.misconfigurations.some(
        (m) => m.checkId === checkId && m.resource.kind === kind && m.resource.name === name,
      );
    assert.ok(has('pss-privileged', 'Deployment', 'web'));
    assert.ok(report.misconfigurations.some((m) => m.resource.kind === 'DaemonSet'));
    assert.ok(report.misconfigurations.some((m) => m.resource.kind === 'Pod' && m.resource.name === 'debug'));
    assert.ok(report.misconfigurations.some((m) => m.resource.kind === 'CronJob'));
    // Replicas are judged through their controller, not once per pod.
    assert.ok(!report.misconfigurations.some((m) => m.resource.kind === 'ReplicaSet'));
    assert.ok(!report.misconfigurations.some((m) => m.resource.name.startsWith('web-7c9d5b8f6d')));
    assert.deepEqual(report.errors, []);
    assert.ok(!api.log.some((x) => x.path.includes('secrets')));
  });
});

test('posture scan --context picks the context from $KUBECONFIG; table output', async () => {
  await withApi({ tokens: [TOKEN] }, async (api) => {
    const other = kubeconfig('other.yaml', 'https://127.0.0.1:1', 'nope', 'elsewhere');
    const mine = kubeconfig('mine.yaml', api.url, TOKEN, 'staging');
    const r = await run(['posture', 'scan', '--context', 'staging'], {
      env: { KUBECONFIG: `${other}:${mine}` },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Deployment\/shop\/web\s+CRITICAL\s+pss-privileged/);
  });
});

test('incomplete snapshot: warning, exit 2; --allow-incomplete exits as usual', async () => {
  await withApi({ tokens: [TOKEN], hang: { resource: 'pods', page: 1 } }, async (api) => {
    const cfg = kubeconfig('flaky.yaml', api.url, TOKEN, 'flaky');
    const args = ['posture', 'scan', '--kubeconfig', cfg, '--request-timeout', '0.3', '-f', 'json'];
    const r = await run(args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /snapshot of cluster flaky is incomplete/);
    assert.match(r.stderr, /v1\/Pod: cluster flaky: pods: API server did not answer/);
    const report = JSON.parse(r.stdout) as LiveReport;
    assert.ok(report.errors.some((e) => e.file === 'cluster flaky: v1/Pod'));
    const allowed = await run([...args, '--allow-incomplete']);
    assert.equal(allowed.code, 0);
    assert.match(allowed.stderr, /^warning: snapshot of cluster flaky is incomplete/m);
  });
});

test('expired credential: one clear error naming the cluster, token never printed', async () => {
  await withApi({ tokens: ['the-new-token'] }, async (api) => {
    const cfg = kubeconfig('expired.yaml', api.url, TOKEN, 'prod-eu');
    const r = await run(['posture', 'scan', '--kubeconfig', cfg]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cluster prod-eu: .*credential expired or rejected/);
    assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN));
  });
});

test('paths and --kubeconfig together are refused; no input at all is refused', async () => {
  const both = await run(['posture', 'scan', '--kubeconfig', 'x.yaml', 'deploy/']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /not both/);
  const none = await run(['posture', 'scan']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /nothing to scan/);
});
