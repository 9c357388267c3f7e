/**
 * Watches and `cluster bind` against the fake API server: recorded watch sessions (events,
 * bookmarks, a dropped connection, a malformed line, 410 Gone, silence), the informer's
 * resume and relist, and server-side apply with dry run, conflicts, 403 and a token kubeconfig.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isPalisadeError, type PalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import {
  GoneError,
  InformerCache,
  KubeClient,
  bindPalisade,
  listAndWatch,
  loadKubeconfig,
  type InformerEvent,
  type WatchEvent,
} from '../src/index.js';
import { startFakeApi, type FakeApi, type FakeApiOptions, type WatchStep } from './fake-apiserver.js';
import { cleanupPki, pki, writeKubeconfig } from './helpers.js';

const TOKEN = 'admin-token-for-watch-tests';
const SA_TOKEN = 'sa-token-for-palisade-reader';
const work = tempDir('palisade-kube-watch-');
after(() => {
  work.cleanup();
  cleanupPki();
});

function kevent(uid: string, rv: string, reason = 'BackOff'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `pod-a.${uid}`, namespace: 'shop', uid, resourceVersion: rv },
    reason,
    message: `Back-off restarting failed container (${uid})`,
    type: 'Warning',
    involvedObject: { kind: 'Pod', name: 'pod-a', namespace: 'shop' },
    count: 1,
  };
}

const ev = (type: string, object: Record<string, unknown>): WatchStep => ({ event: { type, object } });

async function withClient<T>(opts: FakeApiOptions, fn: (client: KubeClient, api: FakeApi) => Promise<T>): Promise<T> {
  const api = await startFakeApi(pki(), { tokens: [TOKEN, SA_TOKEN], ...opts });
  const cfg = writeKubeconfig(
    work.path,
    `kc-${Math.random().toString(36).slice(2)}.yaml`,
    'kind-shop',
    api.url,
    { token: TOKEN },
    { 'certificate-authority-data': readFileSync(pki().caCert).toString('base64') },
  );
  const client = new KubeClient(loadKubeconfig({ kubeconfig: cfg }), { requestTimeoutMs: 5000 });
  try {
    return await fn(client, api);
  } finally {
    client.close();
    await api.close();
  }
}

async function drain(it: AsyncIterable<WatchEvent>): Promise<{ events: WatchEvent[]; error?: PalisadeError }> {
  const events: WatchEvent[] = [];
  try {
    for await (const e of it) events.push(e);
  } catch (err) {
    assert.ok(isPalisadeError(err), String(err));
    return { events, error: err };
  }
  return { events };
}

test('watch: events, bookmarks and deletes in order, with the query a watch needs', async () => {
  await withClient(
    {
      watch: {
        events: [
          [
            ev('ADDED', kevent('e1', '101')),
            ev('MODIFIED', kevent('e1', '102')),
            ev('BOOKMARK', { kind: 'Event', apiVersion: 'v1', metadata: { resourceVersion: '150' } }),
            ev('DELETED', kevent('e1', '160')),
          ],
        ],
      },
    },
    async (client, api) => {
      const { events, error } = await drain(
        client.watch('Event', {
          namespace: 'shop',
          resourceVersion: '100',
          fieldSelector: 'type=Warning',
          timeoutSeconds: 60,
        }),
      );
      assert.equal(error, undefined);
      assert.deepEqual(
        events.map((e) => e.type),
        ['ADDED', 'MODIFIED', 'BOOKMARK', 'DELETED'],
      );
      const req = api.log.find((r) => r.query.includes('watch=1'));
      assert.ok(req);
      assert.equal(req.path, '/api/v1/namespaces/shop/events');
      const q = new URLSearchParams(req.query);
      assert.equal(q.get('allowWatchBookmarks'), 'true');
      assert.equal(q.get('resourceVersion'), '100');
      assert.equal(q.get('fieldSelector'), 'type=Warning');
      assert.equal(q.get('timeoutSeconds'), '60');
    },
  );
});

test('watch: a malformed line, a dropped stream, 410 Gone and silence are distinct errors', async () => {
  await withClient(
    {
      watch: {
        events: [
          [ev('ADDED', kevent('e1', '101')), { raw: '{"type":"ADDED","object":{"metadata":' }],
          [ev('ADDED', kevent('e2', '102')), { drop: true }],
          [
            {
              event: {
                type: 'ERROR',
                object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5000)' },
              },
            },
          ],
          [{ hold: true }],
        ],
      },
    },
    async (client) => {
      const malformed = await drain(client.watch('events'));
      assert.equal(malformed.events.length, 1);
      assert.equal(malformed.error?.code, 'E_CORRUPT');
      assert.match(malformed.error?.describe() ?? '', /watch events: watch event 2 is not JSON/);

      const dropped = await drain(client.watch('events'));
      assert.equal(dropped.events.length, 1);
      assert.equal(dropped.error?.code, 'E_NETWORK');
      assert.match(dropped.error?.message ?? '', /closed the watch mid-stream|watch failed/);

      const gone = await drain(client.watch('events', { resourceVersion: '1' }));
      assert.ok(gone.error instanceof GoneError, 'a 410 ERROR event is the relist signal');
      assert.match(gone.error?.message ?? '', /HTTP 410 Gone\): too old resource version/);

      const silent = await drain(client.watch('events', { idleTimeoutMs: 300 }));
      assert.equal(silent.error?.code, 'E_TIMEOUT');
    },
  );
});

test('watch: secrets and unknown kinds are refused before any request', async () => {
  await withClient({}, async (client, api) => {
    const secret = await drain(client.watch('Secret'));
    assert.equal(secret.error?.code, 'E_INPUT');
    const unknown = await drain(client.watch('Gizmo'));
    assert.match(unknown.error?.message ?? '', /unknown kind Gizmo/);
    assert.equal(api.log.length, 0);
  });
});

test('listAndWatch: list, watch, resume after a drop, relist after 410, bounded cache', async () => {
  await withClient(
    {
      extraObjects: [kevent('e1', '90'), kevent('e2', '91'), kevent('e3', '92')],
      watch: {
        events: [
          [ev('ADDED', kevent('e4', '201')), { drop: true }],
          [{ event: { type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } } }],
          [ev('MODIFIED', kevent('e4', '301')), ev('DELETED', kevent('e3', '302'))],
        ],
      },
    },
    async (client, api) => {
      const abort = new AbortController();
      const cache = new InformerCache(3);
      const seen: InformerEvent[] = [];
      const retries: string[] = [];
      for await (const e of listAndWatch(
        client,
        'Event',
        { signal: abort.signal, backoffMs: 10, onRetry: (err) => retries.push(err.code) },
        cache,
      )) {
        seen.push(e);
        if (e.type === 'DELETED') abort.abort();
      }
      assert.deepEqual(
        seen.map((e) => e.type),
        ['SYNC', 'ADDED', 'SYNC', 'MODIFIED', 'DELETED'],
      );
      const first = seen[0];
      assert.ok(first?.type === 'SYNC');
      assert.equal(first.objects.length, 3);
      assert.equal(first.objects[0]?.['kind'], 'Event', 'list items get their kind back');
      assert.deepEqual(retries, ['E_NETWORK', 'E_NETWORK']);
      const watches = api.log.filter((r) => r.query.includes('watch=1')).map((r) => new URLSearchParams(r.query));
      assert.equal(watches.length, 3);
      const lists = api.log.filter((r) => r.path === '/api/v1/events' && !r.query.includes('watch=1'));
      assert.equal(lists.length, 2, 'listed at the start and after 410');
      assert.equal(watches[1]?.get('resourceVersion'), '201', 'resumed from the last event after the drop');
      assert.ok(cache.size <= 3);
      assert.equal(cache.get('e3'), undefined, 'deleted objects leave the cache');
      assert.equal(cache.get('e4')?.['metadata'] !== undefined, true);
      assert.ok(cache.evicted >= 1, 'four objects in a cache of three: the oldest was dropped');
    },
  );
});

test('listAndWatch gives up after maxFailures consecutive failures', async () => {
  await withClient({ watch: { events: [[{ drop: true }], [{ drop: true }], [{ drop: true }]] } }, async (client) => {
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of listAndWatch(client, 'Event', { maxFailures: 2, backoffMs: 5 })) seen.push(e.type);
      })(),
      (err: unknown) => isPalisadeError(err) && err.code === 'E_NETWORK',
    );
    assert.deepEqual(seen, ['SYNC']);
  });
});

test('cluster bind: server-side apply with fieldManager palisade; a second run reconfigures', async () => {
  await withClient({}, async (client, api) => {
    const first = await bindPalisade(client);
    assert.deepEqual(
      first.applied.map((a) => `${a.kind} ${a.result}`),
      ['Namespace created', 'ServiceAccount created', 'ClusterRole created', 'ClusterRoleBinding created'],
    );
    const patches = api.log.filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, 4);
    for (const p of patches) {
      assert.equal(p.contentType, 'application/apply-patch+yaml');
      const q = new URLSearchParams(p.query);
      assert.equal(q.get('fieldManager'), 'palisade');
      assert.equal(q.get('force'), 'false');
      assert.equal(q.get('dryRun'), null);
    }
    assert.deepEqual(
      patches.map((p) => p.path),
      [
        '/api/v1/namespaces/palisade',
        '/api/v1/namespaces/palisade/serviceaccounts/palisade-reader',
        '/apis/rbac.authorization.k8s.io/v1/clusterroles/palisade-reader',
        '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/palisade-reader',
      ],
    );
    const role = api.applied.get('/apis/rbac.authorization.k8s.io/v1/clusterroles/palisade-reader') as {
      rules: Array<{ resources: string[]; verbs: string[] }>;
    };
    for (const r of role.rules) {
      assert.deepEqual(r.verbs, ['get', 'list', 'watch']);
      assert.ok(!r.resources.includes('secrets') && !r.resources.includes('*'));
    }
    const again = await bindPalisade(client);
    assert.ok(again.applied.every((a) => a.result === 'configured'));
    assert.ok(!api.log.some((r) => r.path.includes('/secrets')), 'no token asked for, no secret touched');
  });
});

test('cluster bind --dry-run: dryRun=All, nothing stored, objects of a namespace to be created skipped', async () => {
  await withClient({}, async (client, api) => {
    const r = await bindPalisade(client, { dryRun: true });
    assert.deepEqual(
      r.applied.map((a) => `${a.kind} ${a.result}`),
      ['Namespace created', 'ClusterRole created', 'ClusterRoleBinding created'],
    );
    assert.deepEqual(r.skipped, ['ServiceAccount palisade/palisade-reader']);
    assert.ok(
      api.log.filter((x) => x.method === 'PATCH').every((x) => new URLSearchParams(x.query).get('dryRun') === 'All'),
    );
    assert.equal(api.applied.size, 0);
  });
});

test('cluster bind: 403 names the object and the rights needed; conflicts are reported, then forced', async () => {
  await withClient({ forbid: ['clusterroles'], forbidVerbs: ['patch'] }, async (client) => {
    await assert.rejects(bindPalisade(client), (err: unknown) => {
      assert.ok(isPalisadeError(err));
      assert.equal(err.code, 'E_AUTH');
      assert.match(err.describe(), /apply ClusterRole palisade-reader: not allowed \(HTTP 403: .*cannot patch/);
      assert.match(err.message, /cluster-admin/);
      assert.doesNotMatch(err.describe(), new RegExp(TOKEN));
      return true;
    });
  });
  await withClient({ applyConflicts: ['clusterroles'] }, async (client, api) => {
    await assert.rejects(bindPalisade(client), (err: unknown) => {
      assert.ok(isPalisadeError(err));
      assert.equal(err.code, 'E_CONFIG');
      assert.match(err.message, /\.rules \(conflict with "kubectl-client-side-apply"/);
      assert.match(err.message, /--force-conflicts/);
      return true;
    });
    const forced = await bindPalisade(client, { forceConflicts: true });
    assert.equal(forced.applied.length, 4);
    const rolePatch = api.log.filter((r) => r.path.endsWith('/clusterroles/palisade-reader')).pop();
    assert.equal(new URLSearchParams(rolePatch?.query).get('force'), 'true');
  });
});

test('cluster bind --print-kubeconfig: token Secret applied, waited for, and the kubeconfig works', async () => {
  await withClient({}, async (client, api) => {
    const r = await bindPalisade(client, { kubeconfig: true, tokenWaitMs: 5000 });
    assert.equal(r.applied.at(-1)?.kind, 'Secret');
    assert.ok(r.kubeconfig);
    const kc = parseYaml(r.kubeconfig) as {
      users: Array<{ user: { token: string } }>;
      clusters: Array<{ cluster: Record<string, string> }>;
    };
    assert.equal(kc.users[0]?.user.token, SA_TOKEN);
    assert.equal(kc.clusters[0]?.cluster['server'], api.url);
    assert.ok(kc.clusters[0]?.cluster['certificate-authority-data']);
    const file = join(work.path, 'reader.yaml');
    writeFileSync(file, r.kubeconfig);
    const reader = new KubeClient(loadKubeconfig({ kubeconfig: file }));
    try {
      const before = api.log.length;
      await reader.getJson('/api');
      assert.equal(api.log[before]?.auth, 'token', 'the API server accepted the ServiceAccount token');
    } finally {
      reader.close();
    }
  });
});
