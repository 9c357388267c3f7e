/**
 * A hostile or broken API server cannot keep a list going forever (endless continue tokens,
 * a token repeated), and exec credential plugins run for a server see a minimal environment,
 * never the process's secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { KubeClient, type ClusterConfig } from '../src/index.js';

async function listen(handler: (url: URL) => unknown): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    const body = JSON.stringify(handler(new URL(req.url ?? '/', 'http://x')));
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

function config(server: string, auth: ClusterConfig['auth'] = { token: 't' }): ClusterConfig {
  return { name: 'hostile', server, insecureSkipTlsVerify: false, auth };
}

test('a list that never stops handing out continue tokens ends with E_TIMEOUT after maxPages', async () => {
  let n = 0;
  const api = await listen(() => ({ kind: 'PodList', items: [], metadata: { continue: `t${n++}` } }));
  const client = new KubeClient(config(api.url));
  try {
    await assert.rejects(client.list('/api/v1/pods', { maxPages: 50 }), (err: unknown) => {
      assert.ok(isPalisadeError(err));
      assert.equal(err.code, 'E_TIMEOUT');
      assert.match(err.message, /50 pages/);
      return true;
    });
    assert.equal(api.hits(), 50);
  } finally {
    client.close();
    api.server.close();
  }
});

test('a continue token handed out twice is a corrupt list, not a loop', async () => {
  const api = await listen(() => ({ kind: 'PodList', items: [], metadata: { continue: 'same' } }));
  const client = new KubeClient(config(api.url));
  try {
    await assert.rejects(client.list('/api/v1/pods'), (err: unknown) => {
      assert.ok(isPalisadeError(err));
      assert.equal(err.code, 'E_CORRUPT');
      return true;
    });
    assert.equal(api.hits(), 2);
  } finally {
    client.close();
    api.server.close();
  }
});

test('exec plugins of a minimal-environment client do not see the process environment', async () => {
  const work = tempDir('palisade-kube-env-');
  const seen = join(work.path, 'env.txt');
  const script = join(work.path, 'plugin.sh');
  writeFileSync(
    script,
    `#!/bin/sh
env > "${seen}"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok"}}'
`,
  );
  chmodSync(script, 0o755);
  const api = await listen(() => ({ kind: 'PodList', items: [], metadata: {} }));
  process.env['PALISADE_TEST_SECRET'] = 'must-not-leak';
  const exec = {
    apiVersion: 'client.authentication.k8s.io/v1',
    command: script,
    args: [],
    env: [{ name: 'FROM_KUBECONFIG', value: 'yes' }],
    baseDir: work.path,
  };
  try {
    for (const mode of ['minimal', 'inherit'] as const) {
      const client = new KubeClient(config(api.url, { exec }), { execEnv: mode });
      try {
        await client.list('/api/v1/pods');
      } finally {
        client.close();
      }
      const env = readFileSync(seen, 'utf8');
      assert.match(env, /^FROM_KUBECONFIG=yes$/m, mode);
      assert.match(env, /^KUBERNETES_EXEC_INFO=/m, mode);
      if (mode === 'minimal') assert.doesNotMatch(env, /PALISADE_TEST_SECRET/);
      else assert.match(env, /PALISADE_TEST_SECRET=must-not-leak/, 'inherit keeps kubectl behaviour');
    }
  } finally {
    delete process.env['PALISADE_TEST_SECRET'];
    api.server.close();
    work.cleanup();
  }
});
