/**
 * A kubeconfig as the server stores it: text given to POST /api/v1/clusters, sealed at rest, and
 * turned into a @palisade/kube ClusterConfig in memory when a snapshot runs. It is never written
 * to disk: @palisade/kube's loadKubeconfig reads files only, so the one context used is resolved
 * here from the parsed document.
 *
 * A stored kubeconfig must be self-contained: every replica uses it, and a file path on the host
 * that registered it means nothing on another (certificate-authority, client-certificate,
 * client-key and tokenFile must be their `-data` or inline forms). Exec credential plugins (EKS,
 * GKE and AKS need them) run on the server host, so they are refused unless the server's
 * `clusters.allowExecPlugins` is on: otherwise any admin token could run a command there.
 */
import { parseDocument } from 'yaml';
import { PalisadeError } from '@palisade/core';
import type { ClusterAuth, ClusterConfig, ExecConfig } from '@palisade/kube';

/** Largest kubeconfig accepted (a kubeconfig with inline certificates is a few KiB). */
export const MAX_KUBECONFIG_BYTES = 256 * 1024;

export interface ParsedKubeconfig {
  config: ClusterConfig;
  /** The context used: the requested one, else current-context. */
  context: string;
  /** Every context the document defines, sorted. */
  contexts: string[];
  /** The exec credential plugin of the context's user, where it is (`users[name].user.exec`); null without one. */
  exec: { at: string; command: string } | null;
}

export interface ParseKubeconfigOptions {
  /** Accept an exec credential plugin (default false: it would run on the server host). */
  allowExec?: boolean;
}

/** The setting that lets exec plugins run, as an operator would write each of its forms. */
export const ALLOW_EXEC_SETTING =
  'clusters.allowExecPlugins: true in the server configuration (env PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS=true, flag --allow-exec-plugins)';

/** Why a kubeconfig with an exec plugin is refused, and how to allow it. The command is named, never its args or env. */
export function execDisabledMessage(command: string): string {
  return `exec credential plugins are disabled on this server (this one would run "${command}" on the server host); use a token or client certificate, or enable them with ${ALLOW_EXEC_SETTING}`;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(o: Obj, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Parse kubeconfig text and resolve one context. Errors are E_INPUT with `subject` naming the
 * field (`<field>` or `<field>: users[name].user.token`), never echoing a credential.
 */
export function parseKubeconfigText(
  source: string,
  context?: string,
  field = 'kubeconfig',
  options: ParseKubeconfigOptions = {},
): ParsedKubeconfig {
  const fail = (message: string, at?: string): never => {
    throw new PalisadeError('E_INPUT', message, { subject: at ? `${field}: ${at}` : field });
  };
  if (Buffer.byteLength(source, 'utf8') > MAX_KUBECONFIG_BYTES)
    fail(`larger than ${MAX_KUBECONFIG_BYTES} bytes; is this a kubeconfig?`);
  const doc = parseDocument(source, { prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    // The YAML error message quotes no input; its line says where to look.
    fail(`not valid YAML${e?.linePos?.[0] ? ` (line ${e.linePos[0].line})` : ''}: ${e?.code ?? 'syntax error'}`);
  }
  const root: unknown = doc.toJS({ maxAliasCount: 50 });
  if (!isObj(root)) return fail('must be a kubeconfig mapping (apiVersion: v1, kind: Config)');
  if (root['kind'] !== undefined && root['kind'] !== 'Config') fail('kind must be Config', 'kind');
  const clusters = named(root, 'clusters', 'cluster', fail);
  const users = named(root, 'users', 'user', fail);
  const contexts = named(root, 'contexts', 'context', fail);
  const names = [...contexts.keys()].sort();
  if (names.length === 0) fail('defines no contexts', 'contexts');
  const current = context ?? text(root, 'current-context');
  if (current === undefined) fail(`no current-context; give a context (one of ${names.join(', ')})`, 'current-context');
  const ctx = contexts.get(current as string);
  if (!ctx) return fail(`context "${current}" not found (known: ${names.join(', ')})`, 'context');
  const clusterName = text(ctx, 'cluster');
  const cluster = clusterName !== undefined ? clusters.get(clusterName) : undefined;
  if (!cluster) return fail(`cluster "${clusterName ?? ''}" of context "${current}" is not defined`, 'clusters');
  const userName = text(ctx, 'user');
  const user = userName !== undefined ? users.get(userName) : undefined;
  if (userName !== undefined && !user) fail(`user "${userName}" of context "${current}" is not defined`, 'users');
  const cAt = `clusters[${clusterName}].cluster`;
  const server = text(cluster, 'server');
  if (server === undefined) return fail('server is missing', `${cAt}.server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail('server is not a URL', `${cAt}.server`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('server must be an https URL', `${cAt}.server`);
  refuseFile(cluster, 'certificate-authority', cAt, fail);
  const caData = text(cluster, 'certificate-authority-data');
  const tlsServerName = text(cluster, 'tls-server-name');
  const auth = user ? userAuth(user, `users[${userName}].user`, fail) : {};
  const exec = auth.exec ? { at: `users[${userName}].user.exec`, command: auth.exec.command } : null;
  if (exec !== null && options.allowExec !== true) fail(execDisabledMessage(exec.command), exec.at);
  const config: ClusterConfig = {
    name: current as string,
    server: server.replace(/\/+$/, ''),
    ...(caData !== undefined ? { ca: base64(caData, `${cAt}.certificate-authority-data`, fail) } : {}),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    ...(tlsServerName !== undefined ? { tlsServerName } : {}),
    auth,
  };
  return { config, context: current as string, contexts: names, exec };
}

type Fail = (message: string, at?: string) => never;

/** name → the entry's `field` mapping (the first definition wins, as kubectl merges). */
function named(root: Obj, list: string, field: string, fail: Fail): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const v = root[list];
  if (v === undefined || v === null) return out;
  if (!Array.isArray(v)) return fail('must be a list', list);
  for (const [i, item] of v.entries()) {
    if (!isObj(item)) fail('must be a mapping', `${list}[${i}]`);
    const name = text(item, 'name');
    if (name === undefined) fail('has no name', `${list}[${i}].name`);
    const value = item[field];
    if (!isObj(value)) fail(`has no ${field} mapping`, `${list}[${name}].${field}`);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

function refuseFile(o: Obj, key: string, at: string, fail: Fail): void {
  if (o[key] !== undefined && o[key] !== null && o[key] !== '')
    fail(`is a file path; a kubeconfig stored by the server must be self-contained: use ${key}-data`, `${at}.${key}`);
}

function base64(value: string, at: string, fail: Fail): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return fail('is not base64', at);
  return Buffer.from(compact, 'base64');
}

function userAuth(u: Obj, at: string, fail: Fail): ClusterAuth {
  refuseFile(u, 'client-certificate', at, fail);
  refuseFile(u, 'client-key', at, fail);
  if (u['tokenFile'] !== undefined)
    fail('is a file path; a kubeconfig stored by the server must be self-contained: use token', `${at}.tokenFile`);
  if (u['auth-provider'] !== undefined)
    fail('auth-provider plugins are not supported (removed from kubectl); use an exec plugin', `${at}.auth-provider`);
  const auth: ClusterAuth = {};
  const token = text(u, 'token');
  if (token !== undefined) auth.token = token;
  const cert = text(u, 'client-certificate-data');
  const key = text(u, 'client-key-data');
  if ((cert === undefined) !== (key === undefined))
    fail('client-certificate-data and client-key-data must be given together', at);
  if (cert !== undefined && key !== undefined) {
    auth.clientCert = base64(cert, `${at}.client-certificate-data`, fail);
    auth.clientKey = base64(key, `${at}.client-key-data`, fail);
  }
  const username = text(u, 'username');
  const password = text(u, 'password');
  if (username !== undefined && password !== undefined) {
    auth.username = username;
    auth.password = password;
  }
  if (u['exec'] !== undefined && u['exec'] !== null) auth.exec = execConfig(u['exec'], `${at}.exec`, fail);
  return auth;
}

function execConfig(v: unknown, at: string, fail: Fail): ExecConfig {
  if (!isObj(v)) return fail('must be a mapping', at);
  const command = text(v, 'command');
  if (command === undefined) return fail('is missing', `${at}.command`);
  // A relative path with a slash would resolve against the kubeconfig's directory, which a stored one has not.
  if (command.includes('/') && !command.startsWith('/'))
    fail('must be a command name (looked up in PATH) or an absolute path', `${at}.command`);
  const args = Array.isArray(v['args']) ? v['args'].filter((a): a is string => typeof a === 'string') : [];
  const env = Array.isArray(v['env'])
    ? v['env']
        .filter(isObj)
        .map((e) => ({ name: text(e, 'name') ?? '', value: typeof e['value'] === 'string' ? e['value'] : '' }))
        .filter((e) => e.name !== '')
    : [];
  const interactiveMode = text(v, 'interactiveMode');
  if (interactiveMode === 'Always')
    fail('interactiveMode Always cannot work on a server (nobody is there to answer)', `${at}.interactiveMode`);
  return {
    command,
    args,
    env,
    apiVersion: text(v, 'apiVersion') ?? 'client.authentication.k8s.io/v1',
    baseDir: '/',
    ...(interactiveMode !== undefined ? { interactiveMode } : {}),
  };
}
