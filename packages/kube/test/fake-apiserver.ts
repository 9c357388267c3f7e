/**
 * A fake Kubernetes API server for tests: HTTPS on 127.0.0.1 with a throwaway CA made by
 * openssl, serving the recorded objects of test/fixtures/cluster.json on the discovery and
 * list endpoints a real API server has, with `limit`/`continue` paging. Knobs make it expire
 * a continue token (410), stop answering mid-list, or reject credentials; every request is
 * logged so tests can assert what was (never) asked for.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { fixturePath } from '@palisade/testkit';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate (CN palisade-admin). */
export function makePki(dir: string): Pki {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fake-kube-ca'],
    dir,
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', '/CN=kube-apiserver'],
    ['client', '/O=system:masters/CN=palisade-admin'],
  ] as const) {
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', cn], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };
}

export interface LoggedRequest {
  path: string;
  resource?: string;
  continue?: string;
  limit?: number;
  auth: 'token' | 'cert' | 'basic' | 'none';
}

export interface FakeApiOptions {
  tokens?: string[];
  basic?: { username: string; password: string };
  /** Accept the client certificate signed by the fake CA. */
  acceptClientCerts?: boolean;
  /** Resources whose first `continue` request answers 410 Gone. */
  goneOnce?: string[];
  /** Stop answering the list of this resource at this page (1-based): headers and half a body, then nothing. */
  hang?: { resource: string; page: number };
  /** Resources the credential may not list: 403 Forbidden, as RBAC answers. */
  forbid?: string[];
  /** Serve gateway.networking.k8s.io/v1 (default false: a cluster without the Gateway API). */
  gatewayApi?: boolean;
}

export interface FakeApi {
  url: string;
  log: LoggedRequest[];
  close(): Promise<void>;
}

interface Kind {
  apiVersion: string;
  kind: string;
  resource: string;
  namespaced: boolean;
}

// The resources a real cluster serves in these groups, secrets and configmaps included, so a
// client that listed everything discovery offers would be caught by the request log.
const KINDS: Kind[] = [
  { apiVersion: 'v1', kind: 'Namespace', resource: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'Node', resource: 'nodes', namespaced: false },
  { apiVersion: 'v1', kind: 'Pod', resource: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', resource: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', resource: 'serviceaccounts', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', resource: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'ConfigMap', resource: 'configmaps', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', resource: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', resource: 'statefulsets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', resource: 'daemonsets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', resource: 'replicasets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'ControllerRevision', resource: 'controllerrevisions', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'Job', resource: 'jobs', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'CronJob', resource: 'cronjobs', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', resource: 'ingresses', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', resource: 'ingressclasses', namespaced: false },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', resource: 'networkpolicies', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', resource: 'gateways', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', resource: 'httproutes', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', resource: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', resource: 'rolebindings', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', resource: 'clusterroles', namespaced: false },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    resource: 'clusterrolebindings',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    resource: 'validatingwebhookconfigurations',
    namespaced: false,
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    resource: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
];

type Obj = Record<string, unknown>;

export function fixtureObjects(): Obj[] {
  const list = JSON.parse(readFileSync(fixturePath('kube', 'cluster.json'), 'utf8')) as { items: Obj[] };
  return list.items;
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startFakeApi(pki: Pki, options: FakeApiOptions = {}): Promise<FakeApi> {
  const kinds = KINDS.filter((k) => options.gatewayApi === true || !k.apiVersion.startsWith('gateway.'));
  const objects = fixtureObjects();
  const log: LoggedRequest[] = [];
  const gone = new Set(options.goneOnce ?? []);
  const caPem = readFileSync(pki.caCert);
  const sockets = new Set<Socket>();
  let listRv = 50000;

  const authOf = (req: IncomingMessage): LoggedRequest['auth'] | undefined => {
    const h = req.headers['authorization'] ?? '';
    if (h.startsWith('Bearer ')) return options.tokens?.includes(h.slice(7)) ? 'token' : undefined;
    if (h.startsWith('Basic ')) {
      const [u, p] = Buffer.from(h.slice(6), 'base64').toString().split(':');
      return options.basic && u === options.basic.username && p === options.basic.password ? 'basic' : undefined;
    }
    const sock = req.socket as TLSSocket;
    if (options.acceptClientCerts && sock.authorized) return 'cert';
    return h === '' && !sock.authorized ? 'none' : undefined;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const entry: LoggedRequest = { path: url.pathname, auth: authOf(req) ?? 'none' };
    log.push(entry);
    if (authOf(req) === undefined || entry.auth === 'none') {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    const p = url.pathname;
    if (p === '/api') {
      json(res, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '172.18.0.2:6443' }],
      });
      return;
    }
    if (p === '/apis') {
      const groups = [...new Set(kinds.filter((k) => k.apiVersion !== 'v1').map((k) => k.apiVersion))].map((gv) => {
        const [name, version] = gv.split('/') as [string, string];
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      });
      json(res, { kind: 'APIGroupList', apiVersion: 'v1', groups });
      return;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/([^/]+))?$/.exec(p);
    const gv = m?.[1] ?? m?.[2];
    const served = kinds.filter((k) => k.apiVersion === gv);
    if (!m || served.length === 0) {
      status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    const resource = m[3];
    if (resource === undefined) {
      json(res, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: gv,
        resources: served.map((k) => ({
          name: k.resource,
          singularName: k.kind.toLowerCase(),
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
        })),
      });
      return;
    }
    const kind = served.find((k) => k.resource === resource);
    if (!kind) {
      status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    entry.resource = resource;
    if (options.forbid?.includes(resource)) {
      const group = kind.apiVersion.includes('/') ? kind.apiVersion.split('/')[0] : '';
      status(
        res,
        403,
        'Forbidden',
        `${resource}${group ? `.${group}` : ''} is forbidden: User "system:serviceaccount:palisade:palisade-reader" cannot list resource "${resource}" in API group "${group ?? ''}" at the cluster scope`,
      );
      return;
    }
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const cont = url.searchParams.get('continue') ?? '';
    if (limit > 0) entry.limit = limit;
    if (cont !== '') entry.continue = cont;
    if (cont !== '' && gone.delete(resource)) {
      status(
        res,
        410,
        'Expired',
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      );
      return;
    }
    let offset = 0;
    let rv = String(listRv++);
    if (cont !== '') {
      const t = JSON.parse(Buffer.from(cont, 'base64url').toString()) as { rv: string; start: number };
      offset = t.start;
      rv = t.rv;
    }
    const all = objects
      .filter((o) => o['apiVersion'] === kind.apiVersion && o['kind'] === kind.kind)
      .map((o) => {
        // Items of a list carry neither apiVersion nor kind, as from a real API server.
        const { apiVersion: _a, kind: _k, ...rest } = o;
        void _a;
        void _k;
        return structuredClone(rest);
      });
    const end = limit > 0 ? Math.min(all.length, offset + limit) : all.length;
    const items = all.slice(offset, end);
    const metadata: Obj = { resourceVersion: rv };
    if (end < all.length) {
      metadata['continue'] = Buffer.from(JSON.stringify({ rv, start: end })).toString('base64url');
      metadata['remainingItemCount'] = all.length - end;
    }
    const body = JSON.stringify({ kind: `${kind.kind}List`, apiVersion: kind.apiVersion, metadata, items });
    const page = Math.floor(offset / Math.max(1, limit)) + 1;
    if (options.hang && options.hang.resource === resource && options.hang.page === page) {
      // The cluster stops answering: a partial body, then silence until the client gives up.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(body.slice(0, Math.floor(body.length / 2)));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };

  const server: Server = createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    handle,
  );
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
