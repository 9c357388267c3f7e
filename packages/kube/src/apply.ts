/**
 * `palisade cluster bind`: server-side apply (PATCH `application/apply-patch+yaml`, field
 * manager `palisade`) of the read-only identity Palisade needs — its Namespace, ServiceAccount,
 * ClusterRole and ClusterRoleBinding — the way Defender creates its binding, plus optionally a
 * long-lived token Secret for the ServiceAccount and a kubeconfig that uses it (what the
 * server needs to register the cluster). Conflicts are not forced unless asked: another
 * manager's fields are reported by name. A 403 says which right the caller lacks.
 */
import { stringify } from 'yaml';
import { PalisadeError } from '@palisade/core';
import type { KubeClient, KubeObject } from './client.js';
import { readOnlyRbacObjects } from './rbac.js';

export interface ApplyOptions {
  /** Field manager recorded on the objects (default `palisade`). */
  fieldManager?: string;
  /** Server-side dry run (`dryRun=All`): validated and admitted, nothing stored. */
  dryRun?: boolean;
  /** Take over fields another manager owns instead of failing with a conflict. */
  forceConflicts?: boolean;
}

export interface AppliedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  /** 201 from the server: created (or, in a dry run, would be). 200: updated or unchanged. */
  result: 'created' | 'configured';
}

type Obj = Record<string, unknown>;

const RESOURCES: Record<string, { resource: string; namespaced: boolean }> = {
  Namespace: { resource: 'namespaces', namespaced: false },
  ServiceAccount: { resource: 'serviceaccounts', namespaced: true },
  Secret: { resource: 'secrets', namespaced: true },
  ClusterRole: { resource: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { resource: 'clusterrolebindings', namespaced: false },
};

function metaOf(o: Obj): Obj {
  const m = o['metadata'];
  return typeof m === 'object' && m !== null ? (m as Obj) : {};
}

function str(o: Obj, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The URL of one object of the kinds bind applies. */
export function objectPath(obj: Obj): { path: string; label: string } {
  const kind = str(obj, 'kind') ?? '';
  const apiVersion = str(obj, 'apiVersion') ?? '';
  const spec = RESOURCES[kind];
  const name = str(metaOf(obj), 'name');
  const namespace = str(metaOf(obj), 'namespace');
  if (spec === undefined || name === undefined || (spec.namespaced && namespace === undefined))
    throw new PalisadeError(
      'E_INPUT',
      `cannot apply ${apiVersion}/${kind}: unsupported kind or missing name/namespace`,
      {
        subject: 'cluster bind',
      },
    );
  const base = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  const ns = spec.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? '')}` : '';
  return {
    path: `${base}${ns}/${spec.resource}/${encodeURIComponent(name)}`,
    label: `${kind} ${namespace !== undefined ? `${namespace}/` : ''}${name}`,
  };
}

interface StatusBody {
  message?: unknown;
  details?: { causes?: Array<{ message?: unknown; field?: unknown }> };
}

/** Server-side apply of one object. */
export async function applyObject(client: KubeClient, obj: Obj, options: ApplyOptions = {}): Promise<AppliedObject> {
  const { path, label } = objectPath(obj);
  const q = new URLSearchParams({
    fieldManager: options.fieldManager ?? 'palisade',
    force: options.forceConflicts ? 'true' : 'false',
  });
  if (options.dryRun) q.set('dryRun', 'All');
  const res = await client.requestJson('PATCH', `${path}?${q.toString()}`, {
    // JSON is YAML: the apply-patch+yaml body is the object as JSON.
    body: JSON.stringify(obj),
    contentType: 'application/apply-patch+yaml',
    resource: `apply ${label}`,
  });
  const subject = `cluster ${client.cluster}: apply ${label}`;
  const status = (res.body ?? {}) as StatusBody;
  const reason = typeof status.message === 'string' ? status.message.split('\n')[0]?.slice(0, 300) : undefined;
  if (res.status === 200 || res.status === 201) {
    const meta = metaOf(obj);
    const namespace = str(meta, 'namespace');
    return {
      apiVersion: str(obj, 'apiVersion') ?? '',
      kind: str(obj, 'kind') ?? '',
      name: str(meta, 'name') ?? '',
      ...(namespace !== undefined ? { namespace } : {}),
      result: res.status === 201 ? 'created' : 'configured',
    };
  }
  if (res.status === 403)
    throw new PalisadeError(
      'E_AUTH',
      `not allowed (HTTP 403${reason ? `: ${reason}` : ''}); binding Palisade needs a credential that may create namespaces, ServiceAccounts, ClusterRoles and ClusterRoleBindings (such as cluster-admin), or have someone who has one apply \`palisade cluster manifests\``,
      { subject },
    );
  if (res.status === 409) {
    const fields = (status.details?.causes ?? [])
      .map(
        (c) =>
          `${typeof c.field === 'string' ? c.field : '?'} (${typeof c.message === 'string' ? c.message : 'conflict'})`,
      )
      .join(', ');
    throw new PalisadeError(
      'E_CONFIG',
      `fields owned by another manager: ${fields || (reason ?? 'conflict')}; Palisade did not overwrite them — re-run with --force-conflicts to take them over`,
      { subject },
    );
  }
  if (res.status === 400 || res.status === 422 || res.status === 415)
    throw new PalisadeError('E_INPUT', `rejected (HTTP ${res.status}${reason ? `: ${reason}` : ''})`, { subject });
  throw client.errorFor(res.status, res.body, `apply ${label}`);
}

export interface BindOptions extends ApplyOptions {
  /** Namespace of the ServiceAccount (default `palisade`). */
  namespace?: string;
  /** Name of the ServiceAccount, ClusterRole and binding (default `palisade-reader`). */
  name?: string;
  /** Also create a long-lived token Secret and return a kubeconfig using it. */
  kubeconfig?: boolean;
  /** How long to wait for the token controller to fill the Secret in (default 30 s). */
  tokenWaitMs?: number;
}

export interface BindResult {
  applied: AppliedObject[];
  /** Objects not sent in a dry run because their namespace does not exist yet. */
  skipped: string[];
  /** A kubeconfig for the ServiceAccount (with kubeconfig: true, not in a dry run). */
  kubeconfig?: string;
}

/**
 * Apply Palisade's read-only identity. The Namespace goes first (applied with nothing but its
 * name, so an existing namespace is left as it is); in a dry run where the namespace would be
 * created, the namespaced objects cannot be dry-run and are listed in `skipped`.
 */
export async function bindPalisade(client: KubeClient, options: BindOptions = {}): Promise<BindResult> {
  const namespace = options.namespace ?? 'palisade';
  const name = options.name ?? 'palisade-reader';
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    ...readOnlyRbacObjects({ namespace, name }),
  ];
  const tokenSecret = `${name}-token`;
  if (options.kubeconfig)
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: { name: tokenSecret, namespace, annotations: { 'kubernetes.io/service-account.name': name } },
    });
  const result: BindResult = { applied: [], skipped: [] };
  let namespaceMissing = false;
  for (const obj of objects) {
    const isNamespaced = str(metaOf(obj), 'namespace') !== undefined;
    if (options.dryRun && namespaceMissing && isNamespaced) {
      result.skipped.push(objectPath(obj).label);
      continue;
    }
    const applied = await applyObject(client, obj, options);
    if (applied.kind === 'Namespace' && applied.result === 'created') namespaceMissing = true;
    result.applied.push(applied);
  }
  if (options.kubeconfig && !options.dryRun) {
    const token = await waitForToken(client, namespace, tokenSecret, options.tokenWaitMs ?? 30_000);
    result.kubeconfig = readerKubeconfig(client, name, token);
  }
  return result;
}

/** Poll the token Secret until the token controller has filled it in (bounded). */
async function waitForToken(
  client: KubeClient,
  namespace: string,
  secret: string,
  waitMs: number,
): Promise<{ token: string; caData?: string }> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(secret)}`;
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const s = (await client.getJson(path, `secret ${namespace}/${secret}`)) as { data?: Record<string, unknown> };
    const token = s.data?.['token'];
    if (typeof token === 'string' && token !== '') {
      const ca = s.data?.['ca.crt'];
      return {
        token: Buffer.from(token, 'base64').toString('utf8'),
        ...(typeof ca === 'string' && ca !== '' ? { caData: ca } : {}),
      };
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new PalisadeError(
    'E_TIMEOUT',
    `the token controller did not fill the token in within ${waitMs} ms (is the kube-controller-manager running?)`,
    { subject: `cluster ${client.cluster}: secret ${namespace}/${secret}` },
  );
}

/** A kubeconfig with one context that authenticates as the ServiceAccount. */
function readerKubeconfig(client: KubeClient, name: string, cred: { token: string; caData?: string }): string {
  const conn = client.connection();
  const cluster: Obj = { server: conn.server };
  const caData = cred.caData ?? conn.ca?.toString('base64');
  if (caData) cluster['certificate-authority-data'] = caData;
  if (conn.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
  if (conn.tlsServerName) cluster['tls-server-name'] = conn.tlsServerName;
  const context = `${name}@${client.cluster}`;
  const doc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: client.cluster, cluster }],
    users: [{ name, user: { token: cred.token } }],
    contexts: [{ name: context, context: { cluster: client.cluster, user: name } }],
    'current-context': context,
  };
  return stringify(doc, { lineWidth: 0 });
}
