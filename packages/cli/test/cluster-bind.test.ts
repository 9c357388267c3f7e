/**
 * `palisade cluster bind` against the fake API server of packages/kube (HTTPS on 127.0.0.1,
 * recorded API with server-side apply): dry run, apply, a kubeconfig for the ServiceAccount,
 * and a credential without RBAC rights (one clear line, exit 2, no token shown).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { repoRoot, tempDir } from '@palisade/testkit';
import { run } from './helpers.js';

// Test code of @palisade/kube, loaded from its build output by path (see posture-live.test.ts).
interface FakeApi {
  url: string;
  log: Array<{ method: string; path: string; query: string }>;
  applied: Map<string, unknown>;
  close(): Promise<void>;
}
interface Pki {
  caCert: string;
}
interface FakeApiModule {
  makePki(dir: string): Pki;
  startFakeApi(pki: Pki, options?: { tokens?: string[]; forbid?: string[]; forbidVerbs?: string[] }): Promise<FakeApi>;
}

const TOKEN = 'sha256~bind-test-admin-token-0123456789';
const SA_TOKEN = 'sa-token-for-palisade-reader';
const work = tempDir('palisade-bind-');
let fake: FakeApiModule;
let pki: Pki;

before(async () => {
  const url = pathToFileURL(join(repoRoot(), 'packages', 'kube', 'dist', 'test', 'fake-apiserver.js')).href;
  fake = (await import(url)) as FakeApiModule;
  pki = fake.makePki(work.path);
});
after(() => work.cleanup());

function kubeconfig(server: string): string {
  const path = join(work.path, 'admin.yaml');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'kind-shop',
    clusters: [
      {
        name: 'kind-shop',
        cluster: { server, 'certificate-authority-data': readFileSync(pki.caCert).toString('base64') },
      },
    ],
    users: [{ name: 'admin', user: { token: TOKEN } }],
    contexts: [{ name: 'kind-shop', context: { cluster: 'kind-shop', user: 'admin' } }],
  };
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

test('cluster bind --dry-run, then bind --print-kubeconfig: the printed kubeconfig reads the cluster', async () => {
  const api = await fake.startFakeApi(pki, { tokens: [TOKEN, SA_TOKEN] });
  try {
    const cfg = kubeconfig(api.url);
    const dry = await run(['cluster', 'bind', '--kubeconfig', cfg, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, /ClusterRole palisade-reader: created \(dry run: nothing stored\)/);
    assert.match(dry.stderr, /ServiceAccount palisade\/palisade-reader: not dry-run/);
    assert.equal(api.applied.size, 0);

    const r = await run(['cluster', 'bind', '--kubeconfig', cfg, '--print-kubeconfig']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ClusterRoleBinding palisade-reader: created/);
    const kc = parseYaml(r.stdout) as { users: Array<{ user: { token: string } }> };
    assert.equal(kc.users[0]?.user.token, SA_TOKEN);
    const reader = join(work.path, 'reader.yaml');
    writeFileSync(reader, r.stdout);
    const scan = await run(['posture', 'scan', '--kubeconfig', reader, '-f', 'json']);
    assert.equal(scan.code, 0, scan.stderr);
  } finally {
    await api.close();
  }
});

test('cluster bind without RBAC rights: exit 2, one line naming the object, no token', async () => {
  const api = await fake.startFakeApi(pki, {
    tokens: [TOKEN],
    forbid: ['clusterrolebindings'],
    forbidVerbs: ['patch'],
  });
  try {
    const r = await run(['cluster', 'bind', '--kubeconfig', kubeconfig(api.url)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /apply ClusterRoleBinding palisade-reader: not allowed \(HTTP 403/);
    assert.ok(!r.stderr.includes(TOKEN));
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    const bad = await run(['cluster', 'bind', '--kubeconfig', kubeconfig(api.url), '--namespace', 'Bad_NS']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--namespace must be a DNS label/);
  } finally {
    await api.close();
  }
});
