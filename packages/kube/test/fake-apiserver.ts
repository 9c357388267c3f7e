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
  method: string;
  path: string;
  /** The query string (watch, resourceVersion, fieldManager, dryRun, …). */
  query: string;
  /** The request body (PATCH), as sent. */
  body?: string;
  contentType?: string;
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
  /** Objects served besides the recorded cluster (e.g. Events). */
  extraObjects?: Array<Record<string, unknown>>;
  /**
   * Recorded watch sessions per resource: each `?watch=1` request plays the next one; with
   * none left, the watch is held open silently (until the client gives up or the server closes).
   */
  watch?: Record<string, WatchStep[][]>;
  /** Resources (plural) whose server-side apply answers 409 Conflict unless force=true. */
  applyConflicts?: string[];
  /** Verbs forbidden on `forbid` resources (default: every verb). */
  forbidVerbs?: string[];
}

/** One step of a recorded watch session. */
export type WatchStep =
  | { event: { type: string; object: Record<string, unknown> } }
  /** A raw line (malformed input), sent as is with a newline. */
  | { raw: string }
  | { delayMs: number }
  /** Cut the connection mid-stream (no terminating chunk). */
  | { drop: true }
  /** Send nothing more and keep the connection open. */
  | { hold: true };

export interface FakeApi {
  url: string;
  log: LoggedRequest[];
  /** Objects written by server-side apply, by URL path. */
  applied: Map<string, Record<string, unknown>>;
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
  { apiVersion: 'v1', kind: 'Event', resource: 'events', namespaced: true },
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

  const applied = new Map<string, Obj>();
  const watchSessions = new Map<string, WatchStep[][]>(
    Object.entries(options.watch ?? {}).map(([k, v]) => [k, [...v]]),
  );
  const objects = [...fixtureObjects(), ...(options.extraObjects ?? [])];

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      auth: authOf(req) ?? 'none',
    };
    if (body !== '') entry.body = body;
    if (req.headers['content-type']) entry.contentType = req.headers['content-type'];
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
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))((?:\/[^/]+)*)$/.exec(p);
    const gv = m?.[1] ?? m?.[2];
    const served = kinds.filter((k) => k.apiVersion === gv);
    if (!m || served.length === 0) {
      status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    // [resource] | [resource, name] | [namespaces, ns, resource] | [namespaces, ns, resource, name]
    const segs = (m[3] ?? '').split('/').filter((x) => x !== '');
    let namespace: string | undefined;
    let objectName: string | undefined;
    let resource: string | undefined;
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      namespace = segs[1];
      resource = segs[2];
      objectName = segs[3];
    } else {
      resource = segs[0];
      objectName = segs[1];
    }
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
    const watching = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    const verb = req.method === 'PATCH' ? 'patch' : objectName !== undefined ? 'get' : watching ? 'watch' : 'list';
    if (options.forbid?.includes(resource) && (options.forbidVerbs ?? [verb]).includes(verb)) {
      const group = kind.apiVersion.includes('/') ? kind.apiVersion.split('/')[0] : '';
      status(
        res,
        403,
        'Forbidden',
        `${resource}${group ? `.${group}` : ''} is forbidden: User "system:serviceaccount:palisade:palisade-reader" cannot ${verb} resource "${resource}" in API group "${group ?? ''}" at the cluster scope`,
      );
      return;
    }
    if (objectName !== undefined) {
      serveObject(req, res, url, body, kind, namespace, objectName);
      return;
    }
    if (watching) {
      playWatch(res, resource);
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
      .filter((o) => namespace === undefined || (o['metadata'] as Obj | undefined)?.['namespace'] === namespace)
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
    const page = JSON.stringify({ kind: `${kind.kind}List`, apiVersion: kind.apiVersion, metadata, items });
    const pageNo = Math.floor(offset / Math.max(1, limit)) + 1;
    if (options.hang && options.hang.resource === resource && options.hang.page === pageNo) {
      // The cluster stops answering: a partial body, then silence until the client gives up.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(page.slice(0, Math.floor(page.length / 2)));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(page);
  };

  /** GET and server-side apply (PATCH application/apply-patch+yaml) of one object. */
  const serveObject = (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: string,
    kind: Kind,
    namespace: string | undefined,
    name: string,
  ): void => {
    const key = url.pathname;
    if (req.method === 'GET') {
      const stored = applied.get(key);
      if (stored === undefined) {
        status(res, 404, 'NotFound', `${kind.resource} "${name}" not found`);
        return;
      }
      json(res, stored);
      return;
    }
    if (req.method !== 'PATCH') {
      status(res, 405, 'MethodNotAllowed', 'the fake API server only serves GET and PATCH');
      return;
    }
    if (req.headers['content-type'] !== 'application/apply-patch+yaml') {
      status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format`);
      return;
    }
    if (!url.searchParams.get('fieldManager')) {
      status(res, 422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value');
      return;
    }
    const force = url.searchParams.get('force') === 'true';
    if (options.applyConflicts?.includes(kind.resource) && !force) {
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using ${kind.apiVersion}: .rules`,
          reason: 'Conflict',
          details: {
            causes: [
              {
                reason: 'FieldManagerConflict',
                message: `conflict with "kubectl-client-side-apply" using ${kind.apiVersion}`,
                field: '.rules',
              },
            ],
          },
          code: 409,
        }),
      );
      return;
    }
    let obj: Obj;
    try {
      obj = JSON.parse(body) as Obj; // JSON is YAML: Palisade sends JSON
    } catch {
      status(res, 400, 'BadRequest', 'error decoding YAML');
      return;
    }
    const meta = (obj['metadata'] ?? {}) as Obj;
    if (
      obj['kind'] !== kind.kind ||
      meta['name'] !== name ||
      (namespace !== undefined && meta['namespace'] !== namespace)
    ) {
      status(res, 400, 'BadRequest', 'the name or kind of the object does not match the URL');
      return;
    }
    if (namespace !== undefined && !applied.has(`/api/v1/namespaces/${namespace}`)) {
      status(res, 404, 'NotFound', `namespaces "${namespace}" not found`);
      return;
    }
    const existed = applied.has(key);
    const stored: Obj = {
      ...obj,
      metadata: { ...meta, uid: `uid-${key}`, resourceVersion: String(listRv++) },
    };
    if (kind.resource === 'secrets' && obj['type'] === 'kubernetes.io/service-account-token') {
      // The token controller fills the token in shortly after the Secret is created.
      setTimeout(() => {
        const s = applied.get(key);
        if (s)
          s['data'] = {
            token: Buffer.from(
              `sa-token-for-${String((meta['annotations'] as Obj | undefined)?.['kubernetes.io/service-account.name'])}`,
            ).toString('base64'),
            'ca.crt': caPem.toString('base64'),
            namespace: Buffer.from(namespace ?? '').toString('base64'),
          };
      }, 150);
    }
    if (url.searchParams.get('dryRun') !== 'All') applied.set(key, stored);
    res.writeHead(existed ? 200 : 201, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stored));
  };

  /** Play the next recorded watch session of a resource as a chunked NDJSON stream. */
  const playWatch = (res: ServerResponse, resource: string): void => {
    const session = watchSessions.get(resource)?.shift();
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (session === undefined) return; // held open
    const steps = [...session];
    const next = (): void => {
      const step = steps.shift();
      if (step === undefined) {
        res.end();
        return;
      }
      if ('event' in step) res.write(JSON.stringify(step.event) + '\n');
      else if ('raw' in step) res.write(step.raw + '\n');
      else if ('drop' in step) {
        res.socket?.destroy();
        return;
      } else if ('hold' in step) return;
      setTimeout(next, 'delayMs' in step ? step.delayMs : 5);
    };
    next();
  };

  const server: Server = createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
    },
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
    applied,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
