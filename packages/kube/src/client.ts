/**
 * A small Kubernetes API client on node:https: GET JSON, and paged lists (`limit` and
 * `continue`) with a bounded page size and a cap on the objects one list may return. It
 * only reads; it never follows redirects; it puts credentials in headers or the TLS
 * handshake and never in a message: errors name the cluster and the resource, not the token.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { PalisadeError } from '@palisade/core';
import type { ClusterConfig } from './kubeconfig.js';
import { runExecPlugin, type ExecCredentialResult } from './exec.js';
import { GoneError } from './gone.js';
import type { KindSpec } from './snapshot.js';
import { watch, type WatchEvent, type WatchOptions } from './watch.js';

export interface KubeClientOptions {
  /** Budget of one HTTP request, headers and body (default 30 s). */
  requestTimeoutMs?: number;
  /** Budget of an exec credential plugin run (default 30 s). */
  execTimeoutMs?: number;
  /**
   * Environment of exec credential plugins: `inherit` (kubectl's behaviour, for a person's own
   * kubeconfig) or `minimal` (PATH, HOME, locale and the kubeconfig's own `env` entries: what a
   * server uses, so a registered kubeconfig's plugin never sees the server's secrets).
   */
  execEnv?: 'inherit' | 'minimal';
  /** Largest response body accepted (default 64 MiB): a bound on one page, not on the list. */
  maxResponseBytes?: number;
}

export interface ListOptions {
  /** Objects per page (`limit`); clamped to 1…5000. Default 500, as kubectl. */
  pageSize?: number;
  /** Most objects one list may return before it fails with E_TOO_LARGE (default 100 000). */
  maxObjects?: number;
  /** Called per page with the page's items (snapshot progress, streaming consumers). */
  onPage?: (items: KubeObject[]) => void;
  /**
   * Most pages one list may take (default 10 000) and the wall-clock budget of the whole list
   * (default 5 min): a server that keeps answering with continue tokens (empty pages are
   * legitimate when a selector filters everything out) cannot keep a snapshot going forever.
   */
  maxPages?: number;
  timeoutMs?: number;
}

export type KubeObject = Record<string, unknown>;

export interface ListResult {
  items: KubeObject[];
  /** resourceVersion of the list: where a watch would start. */
  resourceVersion?: string;
  pages: number;
  /** True when the server expired the continue token and the list was restarted. */
  restarted: boolean;
}

interface RequestSpec {
  method: string;
  path: string;
  /** What errors name: the resource, not the URL with its query. */
  resource: string;
  body?: string | undefined;
  contentType?: string | undefined;
}

const MAX_PAGE = 5000;

export class KubeClient {
  readonly cluster: string;
  private readonly agent: Agent | undefined;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly execTimeoutMs: number;
  private readonly execEnv: 'inherit' | 'minimal';
  private readonly maxBytes: number;
  private execCred: ExecCredentialResult | undefined;
  private execAgent: Agent | undefined;

  constructor(
    private readonly config: ClusterConfig,
    options: KubeClientOptions = {},
  ) {
    this.cluster = config.name;
    this.url = new URL(config.server);
    if (this.url.protocol !== 'https:' && this.url.protocol !== 'http:')
      throw new PalisadeError('E_CONFIG', `server must be an https URL, got ${this.url.protocol}`, {
        subject: config.name,
      });
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.execTimeoutMs = options.execTimeoutMs ?? 30_000;
    this.execEnv = options.execEnv ?? 'inherit';
    this.maxBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
    this.agent =
      this.url.protocol === 'https:' ? this.makeAgent(config.auth.clientCert, config.auth.clientKey) : undefined;
  }

  private makeAgent(cert: Buffer | undefined, key: Buffer | undefined): Agent {
    return new Agent({
      keepAlive: true,
      maxSockets: 4,
      ...(this.config.ca ? { ca: this.config.ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      rejectUnauthorized: !this.config.insecureSkipTlsVerify,
      ...(this.config.tlsServerName ? { servername: this.config.tlsServerName } : {}),
    });
  }

  /** Where the client connects and how it trusts the server: no credential (for writing a kubeconfig). */
  connection(): { server: string; ca?: Buffer; insecureSkipTlsVerify: boolean; tlsServerName?: string } {
    const c = this.config;
    return {
      server: c.server,
      ...(c.ca ? { ca: c.ca } : {}),
      insecureSkipTlsVerify: c.insecureSkipTlsVerify,
      ...(c.tlsServerName ? { tlsServerName: c.tlsServerName } : {}),
    };
  }

  /** Follow changes to a kind (`Pod`, `Event`, or a KindSpec): see watch.ts. */
  watch(kind: string | KindSpec, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    return watch(this, kind, options);
  }

  /** Release pooled connections. */
  close(): void {
    this.agent?.destroy();
    this.execAgent?.destroy();
  }

  /** GET a path (e.g. `/api/v1/nodes`) and parse the JSON body. */
  async getJson(path: string, resource = path): Promise<unknown> {
    const res = await this.send({ method: 'GET', path, resource }, false);
    if (res.status === 401 && this.config.auth.exec) {
      // An exec credential may have been revoked before its stated expiry: kubectl
      // re-runs the plugin once on 401, so does Palisade.
      this.execCred = undefined;
      const again = await this.send({ method: 'GET', path, resource }, true);
      return this.parse(again, resource);
    }
    return this.parse(res, resource);
  }

  /** List a collection with paging; restarts once when the continue token expires (410 Gone). */
  async list(path: string, options: ListOptions = {}, resource = path): Promise<ListResult> {
    try {
      return await this.listOnce(path, options, resource, false);
    } catch (err) {
      if (!(err instanceof GoneError)) throw err;
      return this.listOnce(path, options, resource, true);
    }
  }

  private async listOnce(
    path: string,
    options: ListOptions,
    resource: string,
    restarted: boolean,
  ): Promise<ListResult> {
    const pageSize = Math.max(1, Math.min(MAX_PAGE, Math.floor(options.pageSize ?? 500)));
    const maxObjects = options.maxObjects ?? 100_000;
    const items: KubeObject[] = [];
    let token: string | undefined;
    let resourceVersion: string | undefined;
    let pages = 0;
    const maxPages = options.maxPages ?? 10_000;
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    const seenTokens = new Set<string>();
    do {
      if (pages >= maxPages || Date.now() > deadline) {
        throw new PalisadeError(
          'E_TIMEOUT',
          pages >= maxPages
            ? `list did not end after ${maxPages} pages`
            : `list did not end within ${options.timeoutMs ?? 300_000} ms (${pages} pages)`,
          { subject: this.subject(resource) },
        );
      }
      const q = new URLSearchParams({ limit: String(pageSize) });
      if (token) q.set('continue', token);
      const body = await this.getJson(`${path}?${q.toString()}`, resource);
      pages++;
      const list = body as { items?: unknown; metadata?: { continue?: unknown; resourceVersion?: unknown } };
      if (!Array.isArray(list.items))
        throw new PalisadeError('E_CORRUPT', 'list response has no items array', { subject: this.subject(resource) });
      const page = list.items.filter((x): x is KubeObject => typeof x === 'object' && x !== null);
      if (items.length + page.length > maxObjects)
        throw new PalisadeError('E_TOO_LARGE', `more than ${maxObjects} objects; raise the object cap`, {
          subject: this.subject(resource),
        });
      options.onPage?.(page);
      items.push(...page);
      const next = list.metadata?.continue;
      token = typeof next === 'string' && next !== '' ? next : undefined;
      if (token !== undefined) {
        // A token handed out twice would page in a circle.
        if (seenTokens.has(token))
          throw new PalisadeError('E_CORRUPT', 'list returned the same continue token twice', {
            subject: this.subject(resource),
          });
        seenTokens.add(token);
      }
      if (typeof list.metadata?.resourceVersion === 'string') resourceVersion = list.metadata.resourceVersion;
    } while (token !== undefined);
    return { items, ...(resourceVersion !== undefined ? { resourceVersion } : {}), pages, restarted };
  }

  private subject(resource: string): string {
    return `cluster ${this.cluster}: ${resource}`;
  }

  private parse(res: { status: number; body: Buffer }, resource: string): unknown {
    const subject = this.subject(resource);
    if (res.status === 200) {
      try {
        return JSON.parse(res.body.toString('utf8')) as unknown;
      } catch {
        throw new PalisadeError('E_CORRUPT', 'API server answered with malformed JSON', { subject });
      }
    }
    const reason = statusMessage(res.body);
    switch (res.status) {
      case 401:
        // The body of a 401 is never shown: some proxies echo the request's credentials.
        throw new PalisadeError('E_AUTH', 'credential expired or rejected (HTTP 401 Unauthorized)', { subject });
      case 403:
        throw new PalisadeError(
          'E_AUTH',
          `credential rejected: not allowed (HTTP 403 Forbidden${reason ? `: ${reason}` : ''}); apply the read-only ClusterRole from \`palisade cluster manifests\``,
          { subject },
        );
      case 404:
        throw new PalisadeError('E_NOT_FOUND', 'the API server does not serve this resource (HTTP 404)', { subject });
      case 410:
        throw new GoneError('E_NETWORK', `resource version expired (HTTP 410 Gone)${reason ? `: ${reason}` : ''}`, {
          subject,
        });
      default:
        throw new PalisadeError('E_NETWORK', `API server answered HTTP ${res.status}${reason ? `: ${reason}` : ''}`, {
          subject,
        });
    }
  }

  private async authHeaders(
    forceRefresh: boolean,
    subject: string,
  ): Promise<{ headers: Record<string, string>; agent: Agent | undefined }> {
    const a = this.config.auth;
    const headers: Record<string, string> = {};
    let agent = this.agent;
    if (a.exec) {
      const now = Date.now();
      if (forceRefresh || !this.execCred || (this.execCred.expiresAt !== undefined && this.execCred.expiresAt <= now)) {
        this.execCred = await runExecPlugin(a.exec, subject, this.execTimeoutMs, this.execEnv);
        this.execAgent?.destroy();
        this.execAgent =
          this.execCred.clientCert && this.url.protocol === 'https:'
            ? this.makeAgent(this.execCred.clientCert, this.execCred.clientKey)
            : undefined;
      }
      if (this.execCred.token) headers['authorization'] = `Bearer ${this.execCred.token}`;
      if (this.execAgent) agent = this.execAgent;
    } else if (a.token) {
      headers['authorization'] = `Bearer ${a.token}`;
    } else if (a.tokenFile) {
      // Re-read per request: projected service-account tokens are rotated in place.
      let token: string;
      try {
        token = readFileSync(a.tokenFile, 'utf8').trim();
      } catch (err) {
        throw new PalisadeError('E_AUTH', `cannot read token file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
          subject: `cluster ${this.cluster}`,
        });
      }
      headers['authorization'] = `Bearer ${token}`;
    } else if (a.username !== undefined && a.password !== undefined) {
      headers['authorization'] = `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    }
    return { headers, agent };
  }

  /**
   * Send a request with a body (JSON, or YAML for server-side apply). Resolves with the status
   * and the parsed JSON answer (a Kubernetes Status for most errors) so the caller can explain
   * a 403 or a 409 in its own terms; a 401 and transport failures throw as for getJson.
   */
  async requestJson(
    method: 'GET' | 'PATCH' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    options: { body?: string; contentType?: string; resource?: string } = {},
  ): Promise<{ status: number; body: unknown }> {
    const resource = options.resource ?? path;
    const spec: RequestSpec = { method, path, resource, body: options.body, contentType: options.contentType };
    let res = await this.send(spec, false);
    if (res.status === 401 && this.config.auth.exec) {
      this.execCred = undefined;
      res = await this.send(spec, true);
    }
    if (res.status === 401) this.parse(res, resource); // throws E_AUTH, body never shown
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8')) as unknown;
    } catch {
      if (res.status >= 200 && res.status < 300)
        throw new PalisadeError('E_CORRUPT', 'API server answered with malformed JSON', {
          subject: this.subject(resource),
        });
    }
    return { status: res.status, body };
  }

  /** The error getJson would throw for this answer (for callers of requestJson). */
  errorFor(status: number, body: unknown, resource: string): PalisadeError {
    try {
      this.parse({ status, body: Buffer.from(JSON.stringify(body ?? {})) }, resource);
    } catch (err) {
      if (err instanceof PalisadeError) return err;
    }
    return new PalisadeError('E_NETWORK', `API server answered HTTP ${status}`, { subject: this.subject(resource) });
  }

  /**
   * Open a streaming GET (a watch): resolves with the response once the server answered 200,
   * or rejects with the same errors as getJson. The caller reads and ends the stream; the
   * request timeout covers only the connection and headers, `idle` is the caller's to enforce.
   */
  async openStream(path: string, resource = path, signal?: AbortSignal): Promise<IncomingMessage> {
    let res = await this.startStream(path, resource, false, signal);
    if (res.statusCode === 401 && this.config.auth.exec) {
      res.resume();
      this.execCred = undefined;
      res = await this.startStream(path, resource, true, signal);
    }
    if (res.statusCode === 200) return res;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const d of res as AsyncIterable<Buffer>) {
      size += d.length;
      if (size > 64 * 1024) break; // an error Status is small; never read a stream to its end
      chunks.push(d);
    }
    res.destroy();
    this.parse({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }, resource);
    throw new PalisadeError('E_NETWORK', `API server answered HTTP ${res.statusCode ?? 0}`, {
      subject: this.subject(resource),
    });
  }

  private async startStream(
    path: string,
    resource: string,
    forceRefresh: boolean,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    const subject = this.subject(resource);
    const req = await this.makeRequest({ method: 'GET', path, resource }, forceRefresh);
    return new Promise((resolvePromise, reject) => {
      let settled = false;
      const fail = (err: PalisadeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new PalisadeError('E_TIMEOUT', `API server did not answer in ${this.timeoutMs} ms`, { subject })),
        this.timeoutMs,
      );
      const onAbort = (): void => fail(new PalisadeError('E_INTERNAL', 'watch stopped', { subject }));
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) =>
        fail(
          new PalisadeError('E_NETWORK', `cannot reach the API server: ${err.code ?? err.message}`, {
            subject,
            cause: err,
          }),
        ),
      );
      req.on('response', (res: IncomingMessage) => {
        signal?.removeEventListener('abort', onAbort);
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolvePromise(res);
      });
      req.end();
    });
  }

  private async makeRequest(spec: RequestSpec, forceRefresh: boolean): Promise<ClientRequest> {
    const { headers, agent } = await this.authHeaders(forceRefresh, `cluster ${this.cluster}`);
    const base = this.url.pathname.replace(/\/+$/, '');
    const isHttps = this.url.protocol === 'https:';
    const extra: Record<string, string> = {};
    if (spec.body !== undefined) {
      extra['content-type'] = spec.contentType ?? 'application/json';
      extra['content-length'] = String(Buffer.byteLength(spec.body));
    }
    return (isHttps ? httpsRequest : httpRequest)({
      protocol: this.url.protocol,
      hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
      port: this.url.port || (isHttps ? 443 : 80),
      path: base + spec.path,
      method: spec.method,
      headers: { ...headers, ...extra, accept: 'application/json', 'user-agent': 'palisade' },
      ...(isHttps && agent ? { agent } : {}),
    });
  }

  private async send(spec: RequestSpec, forceRefresh: boolean): Promise<{ status: number; body: Buffer }> {
    const subject = this.subject(spec.resource);
    const req = await this.makeRequest(spec, forceRefresh);
    return new Promise((resolvePromise, reject) => {
      let settled = false;
      const fail = (err: PalisadeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      // One deadline covers connect, headers and body: a server that accepts and then stops
      // answering mid-body must not hang a snapshot.
      const timer = setTimeout(
        () => fail(new PalisadeError('E_TIMEOUT', `API server did not answer in ${this.timeoutMs} ms`, { subject })),
        this.timeoutMs,
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        fail(
          new PalisadeError('E_NETWORK', `cannot reach the API server: ${err.code ?? err.message}`, {
            subject,
            cause: err,
          }),
        ),
      );
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > this.maxBytes) {
            fail(new PalisadeError('E_TOO_LARGE', `response larger than ${this.maxBytes} bytes`, { subject }));
            return;
          }
          chunks.push(d);
        });
        res.on('aborted', () =>
          fail(new PalisadeError('E_NETWORK', 'API server closed the connection mid-response', { subject })),
        );
        res.on('error', (err: NodeJS.ErrnoException) =>
          fail(new PalisadeError('E_NETWORK', `response failed: ${err.code ?? err.message}`, { subject })),
        );
        res.on('end', () => {
          if (settled) return;
          if (!res.complete) {
            fail(new PalisadeError('E_NETWORK', 'API server closed the connection mid-response', { subject }));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
      });
      req.end(spec.body);
    });
  }
}

/** The `message` of a Kubernetes Status body, first line, bounded. */
function statusMessage(body: Buffer): string | undefined {
  try {
    const s = JSON.parse(body.toString('utf8')) as { kind?: unknown; message?: unknown };
    if (s.kind === 'Status' && typeof s.message === 'string') return s.message.split('\n')[0]?.slice(0, 200);
  } catch {
    // Not a Status: proxies answer with HTML; the status code says enough.
  }
  return undefined;
}
