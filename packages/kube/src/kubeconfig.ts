/**
 * Kubeconfig loading, as kubectl does it: `--kubeconfig FILE`, else every file of
 * $KUBECONFIG merged (the first file that sets a map entry or `current-context` wins), else
 * ~/.kube/config; then in-cluster service-account config. The result is one
 * `ClusterConfig`: where the API server is, how to trust it and how to authenticate.
 * Credentials are kept in memory only and never appear in an error message.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PalisadeError } from '@palisade/core';

/** An exec credential plugin (client.authentication.k8s.io). */
export interface ExecConfig {
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  apiVersion: string;
  /** Directory the command is resolved against when it is a relative path with a slash. */
  baseDir: string;
  interactiveMode?: string;
}

export interface ClusterAuth {
  token?: string;
  tokenFile?: string;
  /** PEM client certificate and key. */
  clientCert?: Buffer;
  clientKey?: Buffer;
  username?: string;
  password?: string;
  exec?: ExecConfig;
}

export interface ClusterConfig {
  /** The name findings and errors show: the context name (or `in-cluster`). */
  name: string;
  /** API server base URL, without a trailing slash. */
  server: string;
  /** PEM CA bundle to trust; absent means the system roots. */
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  /** SNI / verification name when it differs from the server host. */
  tlsServerName?: string;
  auth: ClusterAuth;
}

export interface LoadKubeconfigOptions {
  /** Explicit file (`--kubeconfig`); wins over $KUBECONFIG. */
  kubeconfig?: string;
  /** Context to use instead of current-context. */
  context?: string;
  env?: NodeJS.ProcessEnv;
}

type Obj = Record<string, unknown>;

interface Named {
  name: string;
  value: Obj;
  /** Directory of the file that defined the entry: relative paths are resolved against it. */
  dir: string;
}

interface Merged {
  currentContext?: string;
  clusters: Map<string, Named>;
  users: Map<string, Named>;
  contexts: Map<string, Named>;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The files kubectl would read, in precedence order. */
export function kubeconfigFiles(options: LoadKubeconfigOptions = {}): string[] {
  if (options.kubeconfig) return [options.kubeconfig];
  const env = options.env ?? process.env;
  const list = (env['KUBECONFIG'] ?? '').split(delimiter).filter((s) => s !== '');
  if (list.length > 0) return [...new Set(list)];
  return [join(env['HOME'] ?? homedir(), '.kube', 'config')];
}

function readKubeconfigFile(file: string, required: boolean): Obj | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // kubectl skips missing files listed in KUBECONFIG; an explicit --kubeconfig must exist.
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PalisadeError(
      'E_CONFIG',
      `cannot read kubeconfig: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        subject: file,
        cause: err,
      },
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new PalisadeError('E_CONFIG', `malformed kubeconfig: ${(err as Error).message.split('\n')[0]}`, {
      subject: file,
    });
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc)) throw new PalisadeError('E_CONFIG', 'kubeconfig is not a mapping', { subject: file });
  return doc;
}

function mergeInto(map: Map<string, Named>, list: unknown, field: string, dir: string): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    if (!isObj(item)) continue;
    const name = str(item, 'name');
    const value = item[field];
    // First definition wins, as in kubectl's merge.
    if (name && isObj(value) && !map.has(name)) map.set(name, { name, value, dir });
  }
}

function mergeFiles(files: string[], explicit: boolean): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  let found = 0;
  for (const file of files) {
    const doc = readKubeconfigFile(file, explicit);
    if (!doc) continue;
    found++;
    const dir = dirname(resolve(file));
    if (merged.currentContext === undefined) merged.currentContext = str(doc, 'current-context');
    mergeInto(merged.clusters, doc['clusters'], 'cluster', dir);
    mergeInto(merged.users, doc['users'], 'user', dir);
    mergeInto(merged.contexts, doc['contexts'], 'context', dir);
  }
  if (found === 0) throw new PalisadeError('E_CONFIG', 'no kubeconfig file found', { subject: files.join(delimiter) });
  return merged;
}

function pathIn(dir: string, p: string): string {
  return isAbsolute(p) ? p : join(dir, p);
}

function readFileField(dir: string, p: string, what: string, subject: string): Buffer {
  try {
    return readFileSync(pathIn(dir, p));
  } catch (err) {
    throw new PalisadeError('E_CONFIG', `cannot read ${what} ${p}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      subject,
    });
  }
}

function base64Field(value: string, what: string, subject: string): Buffer {
  const buf = Buffer.from(value, 'base64');
  if (buf.length === 0) throw new PalisadeError('E_CONFIG', `${what} is not base64`, { subject });
  return buf;
}

function execConfig(v: unknown, dir: string, subject: string): ExecConfig {
  if (!isObj(v)) throw new PalisadeError('E_CONFIG', 'user.exec must be a mapping', { subject });
  const command = str(v, 'command');
  if (!command) throw new PalisadeError('E_CONFIG', 'user.exec.command is missing', { subject });
  const args = Array.isArray(v['args']) ? v['args'].filter((a): a is string => typeof a === 'string') : [];
  const env = Array.isArray(v['env'])
    ? v['env']
        .filter(isObj)
        .map((e) => ({ name: str(e, 'name') ?? '', value: typeof e['value'] === 'string' ? e['value'] : '' }))
    : [];
  const interactiveMode = str(v, 'interactiveMode');
  return {
    command,
    args,
    env: env.filter((e) => e.name !== ''),
    apiVersion: str(v, 'apiVersion') ?? 'client.authentication.k8s.io/v1',
    baseDir: dir,
    ...(interactiveMode ? { interactiveMode } : {}),
  };
}

function userAuth(user: Named | undefined, subject: string): ClusterAuth {
  if (!user) return {};
  const u = user.value;
  const auth: ClusterAuth = {};
  const token = str(u, 'token');
  const tokenFile = str(u, 'tokenFile');
  if (token) auth.token = token;
  else if (tokenFile) auth.tokenFile = pathIn(user.dir, tokenFile);
  const certData = str(u, 'client-certificate-data');
  const cert = str(u, 'client-certificate');
  if (certData) auth.clientCert = base64Field(certData, 'client-certificate-data', subject);
  else if (cert) auth.clientCert = readFileField(user.dir, cert, 'client-certificate', subject);
  const keyData = str(u, 'client-key-data');
  const key = str(u, 'client-key');
  if (keyData) auth.clientKey = base64Field(keyData, 'client-key-data', subject);
  else if (key) auth.clientKey = readFileField(user.dir, key, 'client-key', subject);
  if ((auth.clientCert === undefined) !== (auth.clientKey === undefined))
    throw new PalisadeError('E_CONFIG', 'client certificate and client key must be given together', { subject });
  const username = str(u, 'username');
  const password = str(u, 'password');
  if (username !== undefined && password !== undefined) {
    auth.username = username;
    auth.password = password;
  }
  if (u['exec'] !== undefined && u['exec'] !== null) auth.exec = execConfig(u['exec'], user.dir, subject);
  if (u['auth-provider'] !== undefined && Object.keys(auth).length === 0)
    throw new PalisadeError(
      'E_UNSUPPORTED',
      'auth-provider plugins are not supported (removed from kubectl); use an exec plugin',
      { subject },
    );
  return auth;
}

/** Load the kubeconfig and resolve one context to a ClusterConfig. */
export function loadKubeconfig(options: LoadKubeconfigOptions = {}): ClusterConfig {
  const files = kubeconfigFiles(options);
  const merged = mergeFiles(files, options.kubeconfig !== undefined);
  const contextName = options.context ?? merged.currentContext;
  if (!contextName)
    throw new PalisadeError('E_CONFIG', 'no current-context in kubeconfig; pass --context', {
      subject: files.join(delimiter),
    });
  const ctx = merged.contexts.get(contextName);
  if (!ctx)
    throw new PalisadeError(
      'E_CONFIG',
      `context "${contextName}" not found (known: ${[...merged.contexts.keys()].join(', ') || 'none'})`,
      { subject: files.join(delimiter) },
    );
  const subject = `context ${contextName}`;
  const clusterName = str(ctx.value, 'cluster');
  const cluster = clusterName ? merged.clusters.get(clusterName) : undefined;
  if (!cluster)
    throw new PalisadeError('E_CONFIG', `cluster "${clusterName ?? ''}" of the context is not defined`, { subject });
  const userName = str(ctx.value, 'user');
  const user = userName ? merged.users.get(userName) : undefined;
  if (userName && !user)
    throw new PalisadeError('E_CONFIG', `user "${userName}" of the context is not defined`, { subject });
  const c = cluster.value;
  const server = str(c, 'server');
  if (!server) throw new PalisadeError('E_CONFIG', `cluster "${cluster.name}" has no server`, { subject });
  let ca: Buffer | undefined;
  const caData = str(c, 'certificate-authority-data');
  const caFile = str(c, 'certificate-authority');
  if (caData) ca = base64Field(caData, 'certificate-authority-data', subject);
  else if (caFile) ca = readFileField(cluster.dir, caFile, 'certificate-authority', subject);
  const tlsServerName = str(c, 'tls-server-name');
  return {
    name: contextName,
    server: server.replace(/\/+$/, ''),
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: c['insecure-skip-tls-verify'] === true,
    ...(tlsServerName ? { tlsServerName } : {}),
    auth: userAuth(user, subject),
  };
}

export interface InClusterOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the service-account files are mounted (tests point this elsewhere). */
  serviceAccountDir?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** True when running in a pod with the API server's environment variables. */
export function isInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['KUBERNETES_SERVICE_HOST'] && env['KUBERNETES_SERVICE_PORT']);
}

/**
 * The in-cluster config of a pod: the API server from KUBERNETES_SERVICE_HOST/PORT, the
 * service-account token (as tokenFile: kubelet rotates it, so it is re-read) and CA.
 */
export function inClusterConfig(options: InClusterOptions = {}): ClusterConfig {
  const env = options.env ?? process.env;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port)
    throw new PalisadeError('E_CONFIG', 'not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)', {
      subject: 'in-cluster',
    });
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = join(dir, 'token');
  // Read once now so a missing mount fails at start, not at the first request.
  readFileField(dir, 'token', 'service-account token', 'in-cluster');
  const ca = readFileField(dir, 'ca.crt', 'service-account CA', 'in-cluster');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    name: 'in-cluster',
    server: `https://${hostPart}:${port}`,
    ca,
    insecureSkipTlsVerify: false,
    auth: { tokenFile },
  };
}
