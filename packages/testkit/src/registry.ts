/**
 * A real registry for tests: the CNCF distribution registry (`docker-registry serve`, Debian
 * package docker-registry) on 127.0.0.1, with filesystem storage in a temp dir, optionally
 * behind Basic auth (htpasswd), Docker token auth (a token server in this process signing RS256
 * JWTs with an x5c chain the registry trusts) and TLS (a throwaway CA). Plus pushLayout, which
 * pushes an OCI layout with skopeo. Every wait is bounded; stop() kills the process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { freePort, tempDir } from './index.js';

export interface StartRegistryOptions {
  auth?: 'none' | 'basic' | 'token';
  tls?: boolean;
  /**
   * Registry webhook notifications are POSTed to this URL, with these extra headers (e.g.
   * `{Authorization: 'Bearer <webhook token>'}`, as a registry is configured for Palisade).
   */
  notifications?: { url: string; headers?: Record<string, string> };
  /** Readiness bound, ms (default 20000). */
  startTimeoutMs?: number;
  /**
   * Listen on this port (default: a free one). For when the registry's address must be known
   * before it starts, e.g. to register it with Palisade and get the webhook URL it notifies.
   */
  port?: number;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  host: string;
  /** `http(s)://127.0.0.1:<port>`. */
  url: string;
  /** Valid credentials (auth basic/token); undefined without auth. */
  username?: string;
  password?: string;
  /** The CA that signed the server certificate (tls only). */
  caFile?: string;
  /** Token auth: the realm URL, how many token requests were served, and a refresh token the token server accepts. */
  tokenRealm?: string;
  tokenRequests(): number;
  refreshToken?: string;
  /** The last lines the registry wrote to stderr (for diagnosing a failed test). */
  logs(): string;
  stop(): Promise<void>;
}

const REGISTRY_BIN = '/usr/bin/docker-registry';
const SERVICE = 'palisade-test-registry';
const ISSUER = 'palisade-test-token-server';
const LOG_TAIL = 16 * 1024;
const live = new Set<ChildProcess>();

// A test that crashes must not leave registries behind once the test process exits.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`${cmd} ${args[0] ?? ''} failed: ${String(stderr).trim().slice(-2000) || err.message}`));
      else resolve(String(stdout));
    });
  });
}

const openssl = (args: string[]): Promise<string> => run('openssl', args);

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it. */
async function makeTlsFiles(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    '/CN=Palisade Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1']);
  writeFileSync(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { caFile, certFile, keyFile };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

interface TokenServer {
  realm: string;
  bundle: string;
  refreshToken: string;
  requests(): number;
  close(): Promise<void>;
}

/** Parse `type:name:actions` (names never hold ':' in tests; the first and last colon split). */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter((a) => a !== ''),
  };
}

/** A Docker token server: Basic (GET) or password/refresh_token grants (POST) → an RS256 JWT. */
async function startTokenServer(dir: string, username: string, password: string): Promise<TokenServer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=' + ISSUER,
  ]);
  const key = createPrivateKey(readFileSync(keyFile));
  const x5c = [new X509Certificate(readFileSync(certFile)).raw.toString('base64')];
  const refreshToken = 'refresh-' + randomBytes(12).toString('hex');
  let count = 0;

  const issue = (subject: string, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map(parseScope).filter((s) => s !== undefined);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c }));
    const claims = {
      iss: ISSUER,
      sub: subject,
      aud: SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const body = `${header}.${b64url(JSON.stringify(claims))}`;
    return `${body}.${b64url(sign('sha256', Buffer.from(body), key))}`;
  };
  const deny = (res: http.ServerResponse): void => {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Basic realm="${ISSUER}"` });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] }));
  };
  const grant = (res: http.ServerResponse, scopes: string[]): void => {
    const token = issue(username, scopes);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date().toISOString(),
        refresh_token: refreshToken,
      }),
    );
  };
  const server = http.createServer((req, res) => {
    count++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET') {
      const expected = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
      if (req.headers.authorization !== expected) return deny(res);
      return grant(
        res,
        url.searchParams.getAll('scope').flatMap((s) => s.split(' ')),
      );
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const ok =
        (form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === refreshToken) ||
        (form.get('grant_type') === 'password' &&
          form.get('username') === username &&
          form.get('password') === password);
      if (!ok) return deny(res);
      grant(
        res,
        (form.get('scope') ?? '').split(' ').filter((s) => s !== ''),
      );
    });
  });
  const port = await listen(server);
  return {
    realm: `http://127.0.0.1:${port}/token`,
    bundle: certFile,
    refreshToken,
    requests: () => count,
    close: () => closeServer(server),
  };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** One GET /v2/: true when anything HTTP answers. */
function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(`${url}/v2/`, { rejectUnauthorized: false, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `docker-registry exited (${child.exitCode ?? child.signalCode}) before serving: ${logs().slice(-2000)}`,
      );
    }
    if (await probe(url)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on ${url} within ${timeoutMs} ms: ${logs().slice(-2000)}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Start a real registry on 127.0.0.1; call stop() when done (also on failure paths). */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const tmp = tempDir('palisade-registry-');
  const cleanups: Array<() => Promise<void> | void> = [() => tmp.cleanup()];
  const runCleanups = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    return await startIn(tmp.path, opts, cleanups, runCleanups);
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

async function startIn(
  dir: string,
  opts: StartRegistryOptions,
  cleanups: Array<() => Promise<void> | void>,
  runCleanups: () => Promise<void>,
): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const username = 'palisade';
  const password = 'pw-' + randomBytes(9).toString('hex');
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const httpConfig: Record<string, unknown> = { addr: host, secret: randomBytes(16).toString('hex') };
  let caFile: string | undefined;
  if (opts.tls) {
    const tls = await makeTlsFiles(dir);
    caFile = tls.caFile;
    httpConfig['tls'] = { certificate: tls.certFile, key: tls.keyFile };
  }
  let authConfig: Record<string, unknown> | undefined;
  let token: TokenServer | undefined;
  if (auth === 'basic') {
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, await run('htpasswd', ['-Bbn', username, password]));
    authConfig = { htpasswd: { realm: 'palisade-test', path: htpasswd } };
  } else if (auth === 'token') {
    const server = await startTokenServer(dir, username, password);
    token = server;
    cleanups.push(() => server.close());
    authConfig = { token: { realm: token.realm, service: SERVICE, issuer: ISSUER, rootcertbundle: token.bundle } };
  }
  const config = {
    version: '0.1',
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storage },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: httpConfig,
    health: { storagedriver: { enabled: false } },
    ...(authConfig ? { auth: authConfig } : {}),
    ...(opts.notifications
      ? {
          notifications: {
            endpoints: [
              {
                name: 'palisade',
                url: opts.notifications.url,
                // Distribution's config takes each header as a list of values.
                ...(opts.notifications.headers
                  ? {
                      headers: Object.fromEntries(Object.entries(opts.notifications.headers).map(([k, v]) => [k, [v]])),
                    }
                  : {}),
                timeout: '2s',
                threshold: 3,
                backoff: '1s',
              },
            ],
          },
        }
      : {}),
  };
  // YAML is a superset of JSON: the registry reads this as its config.yml.
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  let tail = '';
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-LOG_TAIL);
  });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot start ${REGISTRY_BIN}: ${err.message}`))),
  );
  spawnError.catch(() => undefined);
  cleanups.push(() => stopChild(child));
  const url = `${opts.tls ? 'https' : 'http'}://${host}`;
  await Promise.race([waitReady(url, child, opts.startTimeoutMs ?? 20_000, () => tail), spawnError]);

  let stopped: Promise<void> | undefined;
  return {
    host,
    url,
    ...(auth !== 'none' ? { username, password } : {}),
    ...(caFile ? { caFile } : {}),
    ...(token ? { tokenRealm: token.realm, refreshToken: token.refreshToken } : {}),
    tokenRequests: () => token?.requests() ?? 0,
    logs: () => tail,
    stop: () => (stopped ??= runCleanups()),
  };
}

export interface PushOptions {
  /** Copy every platform of an index (skopeo --all). */
  all?: boolean;
  /** Push as Docker schema 2 (`v2s2`) instead of keeping OCI. */
  format?: 'oci' | 'v2s2';
}

/** Push tag `tag` of the OCI layout at `layoutDir` to `registry` as `repoAndTag` with skopeo. */
export async function pushLayout(
  layoutDir: string,
  tag: string,
  registry: TestRegistry,
  repoAndTag: string,
  options: PushOptions = {},
): Promise<void> {
  const args = ['copy', '--insecure-policy', '--quiet', '--dest-tls-verify=false'];
  if (options.all) args.push('--all');
  if (options.format === 'v2s2') args.push('--format', 'v2s2');
  if (registry.username !== undefined && registry.password !== undefined)
    args.push('--dest-creds', `${registry.username}:${registry.password}`);
  args.push(`oci:${layoutDir}:${tag}`, `docker://${registry.host}/${repoAndTag}`);
  await run('skopeo', args, 120_000);
}
