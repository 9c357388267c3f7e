/**
 * The `clusters` settings of the server configuration reach a started server: the default
 * interval and the exec plugin refusal at registration (routes), and at snapshot time (the
 * scheduler's connector).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '@palisade/testkit';
import { startServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';

const ADMIN = 'cfg-admin-token-0123456789abcdef0123456789';
const KEY = Buffer.alloc(32, 9);

const EXEC_KUBECONFIG = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'eks',
  clusters: [{ name: 'eks', cluster: { server: 'https://127.0.0.1:1' } }],
  users: [{ name: 'iam', user: { exec: { command: 'aws', args: ['eks', 'get-token'] } } }],
  contexts: [{ name: 'eks', context: { cluster: 'eks', user: 'iam' } }],
});

test('clusters.* settings from the environment reach the routes and the scheduled connector', async () => {
  const d = tempDir('palisade-cfg-clusters-');
  const env = { PALISADE_ADMIN_TOKEN: ADMIN, PALISADE_CLUSTERS_DEFAULT_INTERVAL: '5m' };
  const config = loadConfig({ env, flags: { port: '0', dataDir: join(d.path, 'data') } });
  assert.equal(config.clusters.allowExecPlugins, false);
  const s = await startServer(config, {
    env,
    logStream: false,
    consoleDir: null,
    storage: { secretKey: KEY },
    scheduler: { tickMs: 100 },
  });
  try {
    const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const r = await fetch(`${s.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    const refused = await post('/api/v1/clusters', { name: 'eks', kubeconfig: EXEC_KUBECONFIG });
    assert.equal(refused.status, 400);
    assert.match(
      String((refused.json['error'] as { message: string }).message),
      /^body\.kubeconfig: users\[iam\]\.user\.exec: exec credential plugins are disabled .*"aws"/,
    );
    const agent = await post('/api/v1/clusters', { name: 'edge' });
    assert.equal(agent.status, 201);
    assert.equal((agent.json['cluster'] as { intervalSeconds: number }).intervalSeconds, 300);

    // A kubeconfig stored while another replica allowed exec plugins: this one refuses to run it.
    const { cluster } = await s.storage.clusters.create({ name: 'eks', kubeconfig: EXEC_KUBECONFIG, context: 'eks' });
    let status = cluster.status;
    for (let i = 0; i < 100 && status === 'pending'; i++) {
      await sleep(100);
      status = (await s.storage.clusters.get(cluster.id))?.status ?? status;
    }
    assert.equal(status, 'exec_disabled');
    assert.match(String((await s.storage.clusters.get(cluster.id))?.lastError), /clusters\.allowExecPlugins/);
  } finally {
    await s.close();
    d.cleanup();
  }
});
