/**
 * A recorded Kubernetes API server for the connector tests: HTTPS on 127.0.0.1 with a throwaway
 * CA made by openssl, serving the real objects of packages/kube/test/fixtures/cluster.json on the
 * discovery and paged list endpoints. Unlike @palisade/kube's own fake, the objects, the accepted
 * tokens and a "stop answering" switch can be changed between snapshots, so a test can edit the
 * cluster, expire the credential or have the server die mid-snapshot. Secrets are served too (as
 * a real server would); the request log shows they are never asked for.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fixturePath, tempDir } from '@palisade/testkit';

type Obj = Record<string, unknown>;

interface Kind {
  apiVersion: string;
  kind: string;
  resource: string;
  namespaced: boolean;
}

const KINDS: Kind[] = [
  ['v1', 'Namespace', 'namespaces', false],
  ['v1', 'Node', 'nodes', false],
  ['v1', 'Pod', 'pods', true],
  ['v1', 'Service', 'services', true],
  ['v1', 'ServiceAccount', 'serviceaccounts', true],
  ['v1', 'Secret', 'secrets', true],
  ['v1', 'ConfigMap', 'configmaps', true],
  ['apps/v1', 'Deployment', 'deployments', true],
  ['apps/v1', 'StatefulSet', 'statefulsets', true],
  ['apps/v1', 'DaemonSet', 'daemonsets', true],
  ['apps/v1', 'ReplicaSet', 'replicasets', true],
  ['batch/v1', 'Job', 'jobs', true],
  ['batch/v1', 'CronJob', 'cronjobs', true],
  ['networking.k8s.io/v1', 'Ingress', 'ingresses', true],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles', true],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', true],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false],
  ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false],
  ['admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false],
].map(([apiVersion, kind, resource, namespaced]) => ({
  apiVersion: apiVersion as string,
  kind: kind as string,
  resource: resource as string,
  namespaced: namespaced as boolean,
}));

export const FIXTURE_TOKEN = 'fixture-token-0123456789abcdef';

export function fixtureObjects(): Obj[] {
  return (JSON.parse(readFileSync(fixturePath('kube', 'cluster.json'), 'utf8')) as { items: Obj[] }).items;
}

export interface FakeCluster {
  url: string;
  /** PEM of the CA that signed the server certificate. */
  caPem: string;
  /** What the server lists; edit it between snapshots. */
  objects: Obj[];
  /** Bearer tokens accepted; remove one to make it "expire". */
  tokens: Set<string>;
  /** Answer this resource's list with half a body and then nothing (the server stops answering). */
  hang: string | null;
  /** Paths requested (with the query string). */
  log: string[];
  /** A kubeconfig (JSON text) for this server with `token`. */
  kubeconfig(token?: string, context?: string): string;
  close(): Promise<void>;
}

let pki: { dir: string; ca: string; cert: string; key: string; cleanup: () => void } | undefined;

/** One CA and server certificate per test process. */
function certificates(): { ca: string; cert: string; key: string } {
  if (pki) return pki;
  const t = tempDir('palisade-fake-kube-');
  const ossl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: t.path, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fake-kube-ca']);
  writeFileSync(join(t.path, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ossl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
  ossl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  pki = {
    dir: t.path,
    ca: readFileSync(join(t.path, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(t.path, 'server.crt'), 'utf8'),
    key: readFileSync(join(t.path, 'server.key'), 'utf8'),
    cleanup: t.cleanup,
  };
  return pki;
}

export function cleanupCertificates(): void {
  pki?.cleanup();
  pki = undefined;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string): void {
  send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: reason, reason, code });
}

export async function startFakeCluster(): Promise<FakeCluster> {
  const certs = certificates();
  const sockets = new Set<Socket>();
  let listRv = 70000;
  const state: FakeCluster = {
    url: '',
    caPem: certs.ca,
    objects: fixtureObjects(),
    tokens: new Set([FIXTURE_TOKEN]),
    hang: null,
    log: [],
    kubeconfig: (token = FIXTURE_TOKEN, context = 'kind-test') =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': context,
        clusters: [
          {
            name: 'kind',
            cluster: { server: state.url, 'certificate-authority-data': Buffer.from(certs.ca).toString('base64') },
          },
        ],
        users: [{ name: 'reader', user: { token } }],
        contexts: [{ name: context, context: { cluster: 'kind', user: 'reader' } }],
      }),
    close: async () => undefined,
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    state.log.push(`${url.pathname}${url.search}`);
    const auth = req.headers['authorization'] ?? '';
    if (!auth.startsWith('Bearer ') || !state.tokens.has(auth.slice(7))) {
      status(res, 401, 'Unauthorized');
      return;
    }
    const p = url.pathname;
    if (p === '/api') {
      send(res, 200, { kind: 'APIVersions', versions: ['v1'] });
      return;
    }
    if (p === '/apis') {
      const groups = [...new Set(KINDS.filter((k) => k.apiVersion !== 'v1').map((k) => k.apiVersion))].map((gv) => {
        const [name, version] = gv.split('/') as [string, string];
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      });
      send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
      return;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/([^/]+))?$/.exec(p);
    const gv = m?.[1] ?? m?.[2];
    const served = KINDS.filter((k) => k.apiVersion === gv);
    if (!m || served.length === 0) {
      status(res, 404, 'NotFound');
      return;
    }
    if (m[3] === undefined) {
      send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: gv,
        resources: served.map((k) => ({ name: k.resource, namespaced: k.namespaced, kind: k.kind, verbs: ['list'] })),
      });
      return;
    }
    const kind = served.find((k) => k.resource === m[3]);
    if (!kind) {
      status(res, 404, 'NotFound');
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const cont = url.searchParams.get('continue') ?? '';
    const start = cont === '' ? 0 : Number(Buffer.from(cont, 'base64url').toString());
    const all = state.objects
      .filter((o) => o['apiVersion'] === kind.apiVersion && o['kind'] === kind.kind)
      .map((o) => {
        const { apiVersion: _a, kind: _k, ...rest } = o;
        void _a;
        void _k;
        return structuredClone(rest);
      });
    const end = limit > 0 ? Math.min(all.length, start + limit) : all.length;
    const metadata: Obj = { resourceVersion: String(listRv++) };
    if (end < all.length) metadata['continue'] = Buffer.from(String(end)).toString('base64url');
    const body = JSON.stringify({
      kind: `${kind.kind}List`,
      apiVersion: kind.apiVersion,
      metadata,
      items: all.slice(start, end),
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    if (state.hang === kind.resource) {
      // The API server stops answering mid-list: half a body, then silence.
      res.write(body.slice(0, Math.floor(body.length / 2)));
      return;
    }
    res.end(body);
  };

  const server: Server = createServer({ cert: certs.cert, key: certs.key }, handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  state.url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** The fixture object of a kind and name (to edit it in place). */
export function objectNamed(objects: Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x['kind'] === kind && (x['metadata'] as Obj)['name'] === name);
  if (!o) throw new Error(`fixture has no ${kind} ${name}`);
  return o;
}
