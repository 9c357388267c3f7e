/**
 * A client for the OCI Distribution API v2 (pull, push, tags, catalog) against one registry
 * host. Auth (anonymous, Basic, Docker token), TLS, timeouts and retries are handled here and in
 * transport.ts; every failure is a PalisadeError naming the image (or blob) and the host.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { PalisadeError } from '@palisade/core';
import type { RegistryCredentials } from '../types.js';
import { Authenticator, briefText } from './auth.js';
import { lookupCredentials } from './credentials.js';
import { MediaType } from './mediatypes.js';
import { Transport, readBody, readErrorBody, type TransportRequest, type TransportResponse } from './transport.js';

export interface RegistryClientOptions {
  /** Allow plain HTTP (https is tried first) and skip TLS verification. */
  insecure?: boolean;
  caFiles?: string[];
  /** Response and body-stall timeout per request, ms (default 30000). */
  timeoutMs?: number;
  userAgent?: string;
  /** Explicit credentials for this registry; otherwise the docker config is consulted. */
  credentials?: RegistryCredentials;
  dockerConfigPath?: string;
  /** How the host is written for people (`docker.io` for `registry-1.docker.io`). */
  displayHost?: string;
  /** Attempts for 429/5xx before giving up (default 3), and the first backoff (default 250 ms). */
  maxAttempts?: number;
  retryBaseMs?: number;
  /** Manifest size limit (default 4 MiB). */
  maxManifestBytes?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Names the thing in errors instead of `host/repo:ref`, e.g. "layer sha256:… of nginx:1.25". */
  subject?: string;
}

export interface ManifestResult {
  bytes: Buffer;
  /** Media type from Content-Type, or from the manifest itself when the registry sent a generic one. */
  mediaType: string;
  /** Digest of `bytes` (verified against the reference when it is a digest). */
  digest: string;
}

export interface BlobInfo {
  digest: string;
  size?: number;
}

interface CallRequest {
  method: TransportRequest['method'];
  url: URL;
  scope: string;
  what: string;
  subject: string;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const MAX_LIST_PAGES = 10_000;
const LIST_RESPONSE_LIMIT = 16 * 1024 * 1024;
const REGISTRY_ERROR_CODES_NOT_FOUND = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UNKNOWN']);

/** Hash `data` with the algorithm of `like` (sha256 by default). */
export function digestOf(data: Buffer, like = 'sha256:'): string {
  const algo = like.split(':', 1)[0] ?? 'sha256';
  if (algo !== 'sha256' && algo !== 'sha384' && algo !== 'sha512') {
    throw new PalisadeError('E_UNSUPPORTED', `digest algorithm "${algo}" is not supported`, { subject: like });
  }
  return `${algo}:${createHash(algo).update(data).digest('hex')}`;
}

function isDigestRef(reference: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]{32,}$/.test(reference);
}

/** The registry's JSON error body as "CODE: message; …", empty when there is none. */
function registryErrors(text: string): { codes: string[]; message: string } {
  try {
    const json = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const errs = Array.isArray(json.errors) ? json.errors : [];
    const codes = errs.map((e) => (typeof e.code === 'string' ? e.code : '')).filter((c) => c !== '');
    const message = errs
      .map((e) => [e.code, e.message].filter((x): x is string => typeof x === 'string' && x !== '').join(': '))
      .filter((m) => m !== '')
      .join('; ');
    return { codes, message: message.replace(/\s+/g, ' ').slice(0, 300) };
  } catch {
    return { codes: [], message: briefText(text).replace(/^: /, '') };
  }
}

/** Sniff a manifest's type when Content-Type is missing or generic (e.g. application/json). */
function sniffMediaType(bytes: Buffer): string | undefined {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as {
      mediaType?: unknown;
      schemaVersion?: unknown;
      manifests?: unknown;
      layers?: unknown;
    };
    if (typeof json.mediaType === 'string' && json.mediaType !== '') return json.mediaType;
    if (json.schemaVersion === 1) return MediaType.dockerSchema1;
    if (Array.isArray(json.manifests)) return MediaType.ociIndex;
    if (Array.isArray(json.layers)) return MediaType.ociManifest;
  } catch {
    return undefined;
  }
  return undefined;
}

/** `<…>; rel="next"` from a Link header, resolved against the request URL. */
function nextLink(header: string | string[] | undefined, base: URL): URL | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return undefined;
  const m = /<([^>]+)>\s*;[^,]*rel="?next"?/i.exec(value);
  return m?.[1] ? new URL(m[1], base) : undefined;
}

export class RegistryClient {
  readonly host: string;
  readonly displayHost: string;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly maxManifestBytes: number;

  constructor(host: string, options: RegistryClientOptions = {}) {
    this.host = host;
    this.displayHost = options.displayHost ?? host;
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.transport = new Transport({
      ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
      ...(options.caFiles ? { caFiles: options.caFiles } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
      userAgent: options.userAgent ?? 'palisade',
    });
    this.auth = new Authenticator({
      host: this.displayHost,
      transport: this.transport,
      credentials: () =>
        lookupCredentials(host, {
          ...(options.credentials ? { credentials: options.credentials } : {}),
          ...(options.dockerConfigPath ? { dockerConfigPath: options.dockerConfigPath } : {}),
        }),
    });
  }

  /** `host/repo:tag` or `host/repo@digest`, as errors name an image. */
  imageName(repo: string, reference?: string): string {
    const base = `${this.displayHost}/${repo}`;
    if (reference === undefined) return base;
    return isDigestRef(reference) ? `${base}@${reference}` : `${base}:${reference}`;
  }

  private url(path: string): URL {
    return new URL(path, this.transport.baseUrl(this.host));
  }

  /** GET /v2/: checks that the registry answers and that credentials (if any) are accepted. */
  async ping(options: CallOptions = {}): Promise<void> {
    const subject = options.subject ?? this.displayHost;
    const res = await this.call({
      method: 'GET',
      url: this.url('/v2/'),
      scope: '',
      what: 'the API root /v2/',
      subject,
      ...signalOf(options),
    });
    if (res.status !== 200) return this.fail(res, 'the API root /v2/', subject);
    res.body.resume();
  }

  /**
   * Fetch a manifest by tag or digest. A digest reference is verified against the bytes; a tag's
   * bytes are checked against Docker-Content-Digest when the registry sends one.
   */
  async getManifest(
    repo: string,
    reference: string,
    accept: readonly string[],
    options: CallOptions = {},
  ): Promise<ManifestResult> {
    const subject = options.subject ?? this.imageName(repo, reference);
    const what = `manifest ${reference}`;
    const res = await this.call({
      method: 'GET',
      url: this.url(`/v2/${repo}/manifests/${reference}`),
      scope: `repository:${repo}:pull`,
      headers: { accept: accept.join(', ') },
      what,
      subject,
      ...signalOf(options),
    });
    if (res.status !== 200) return this.fail(res, what, subject);
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxManifestBytes) {
      res.body.destroy();
      throw new PalisadeError(
        'E_TOO_LARGE',
        `manifest from registry ${this.displayHost} is ${declared} bytes, over the ${this.maxManifestBytes} byte limit`,
        { subject },
      );
    }
    const bytes = await readBody(
      res.body,
      this.maxManifestBytes,
      subject,
      `manifest from registry ${this.displayHost}`,
    );
    const digest = this.verifyManifestDigest(bytes, reference, res.headers['docker-content-digest'], subject);
    const contentType = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const generic =
      contentType === '' ||
      contentType === 'application/json' ||
      contentType === 'text/plain' ||
      contentType === 'application/octet-stream';
    const mediaType = generic ? (sniffMediaType(bytes) ?? contentType) : contentType;
    return { bytes, mediaType, digest };
  }

  private verifyManifestDigest(
    bytes: Buffer,
    reference: string,
    header: string | string[] | undefined,
    subject: string,
  ): string {
    if (isDigestRef(reference)) {
      const actual = digestOf(bytes, reference);
      if (actual !== reference) {
        throw new PalisadeError(
          'E_DIGEST',
          `manifest from registry ${this.displayHost} does not match the requested digest (got ${actual})`,
          { subject },
        );
      }
      return actual;
    }
    const actual = digestOf(bytes);
    const claimed = typeof header === 'string' ? header.trim() : undefined;
    if (claimed?.startsWith('sha256:') && claimed !== actual) {
      throw new PalisadeError(
        'E_DIGEST',
        `manifest from registry ${this.displayHost} does not match its Docker-Content-Digest ${claimed} (got ${actual})`,
        { subject },
      );
    }
    return actual;
  }

  /**
   * Stream a blob. Redirects (to blob storage) are followed; the Authorization header is dropped
   * when the redirect leaves the registry host. The stream is not digest-checked here: layer
   * walks verify it as they go, and getBlobBytes does for small blobs.
   */
  async getBlob(repo: string, digest: string, options: CallOptions = {}): Promise<Readable> {
    const subject = options.subject ?? this.imageName(repo, digest);
    const what = `blob ${digest}`;
    const scope = `repository:${repo}:pull`;
    let res = await this.call({
      method: 'GET',
      url: this.url(`/v2/${repo}/blobs/${digest}`),
      scope,
      what,
      subject,
      ...signalOf(options),
    });
    let authHeader: string | undefined;
    for (let hop = 0; isRedirect(res.status); hop++) {
      if (hop === 0) authHeader = await this.auth.headerFor(scope);
      if (hop >= MAX_REDIRECTS) {
        res.body.resume();
        throw new PalisadeError(
          'E_REGISTRY',
          `registry ${this.displayHost} redirected more than ${MAX_REDIRECTS} times fetching ${what}`,
          { subject },
        );
      }
      const target = this.redirectTarget(res, what, subject);
      res.body.resume();
      // Credentials are for the registry only: a presigned storage URL must not see them.
      if (target.host !== res.url.host) authHeader = undefined;
      const headers: Record<string, string> = authHeader ? { authorization: authHeader } : {};
      res = await this.transport.request({ method: 'GET', url: target, headers, what, subject, ...signalOf(options) });
    }
    if (res.status !== 200 && res.status !== 206) return this.fail(res, what, subject);
    return res.body;
  }

  private redirectTarget(res: TransportResponse, what: string, subject: string): URL {
    const location = res.headers.location;
    try {
      if (!location) throw new Error('no Location');
      const target = new URL(location, res.url);
      if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new Error('not http(s)');
      return target;
    } catch {
      throw new PalisadeError('E_REGISTRY', `registry ${this.displayHost} sent an invalid redirect fetching ${what}`, {
        subject,
      });
    }
  }

  /** Fetch a small blob (a config) into memory and verify its digest. */
  async getBlobBytes(repo: string, digest: string, maxBytes: number, options: CallOptions = {}): Promise<Buffer> {
    const subject = options.subject ?? this.imageName(repo, digest);
    const body = await this.getBlob(repo, digest, options);
    const bytes = await readBody(body, maxBytes, subject, `blob ${digest}`);
    const actual = digestOf(bytes, digest);
    if (actual !== digest) {
      throw new PalisadeError(
        'E_DIGEST',
        `blob ${digest} from registry ${this.displayHost} does not match its digest (got ${actual})`,
        { subject },
      );
    }
    return bytes;
  }

  /** HEAD a blob: its size when present, undefined when the registry does not have it. */
  async headBlob(repo: string, digest: string, options: CallOptions = {}): Promise<BlobInfo | undefined> {
    const subject = options.subject ?? this.imageName(repo, digest);
    const what = `blob ${digest}`;
    const res = await this.call({
      method: 'HEAD',
      url: this.url(`/v2/${repo}/blobs/${digest}`),
      scope: `repository:${repo}:pull`,
      what,
      subject,
      ...signalOf(options),
    });
    res.body.resume();
    if (res.status === 404) return undefined;
    if (res.status !== 200 && !isRedirect(res.status)) return this.fail(res, what, subject);
    const size = Number(res.headers['content-length'] ?? NaN);
    return { digest, ...(res.status === 200 && Number.isFinite(size) ? { size } : {}) };
  }

  /** All tags of a repository, following Link-header pagination. */
  async listTags(repo: string, options: CallOptions & { pageSize?: number } = {}): Promise<string[]> {
    const subject = options.subject ?? this.imageName(repo);
    const first = this.url(`/v2/${repo}/tags/list`);
    if (options.pageSize) first.searchParams.set('n', String(options.pageSize));
    return this.paginate(first, `repository:${repo}:pull`, 'tags', `tag list of ${repo}`, subject, options);
  }

  /** All repositories of the registry (`/v2/_catalog`), following Link-header pagination. */
  async catalog(options: CallOptions & { pageSize?: number } = {}): Promise<string[]> {
    const subject = options.subject ?? this.displayHost;
    const first = this.url('/v2/_catalog');
    if (options.pageSize) first.searchParams.set('n', String(options.pageSize));
    return this.paginate(first, 'registry:catalog:*', 'repositories', 'the repository catalog', subject, options);
  }

  private async paginate(
    first: URL,
    scope: string,
    field: 'tags' | 'repositories',
    what: string,
    subject: string,
    options: CallOptions,
  ): Promise<string[]> {
    const out: string[] = [];
    let url: URL | undefined = first;
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_LIST_PAGES)
        throw new PalisadeError(
          'E_REGISTRY',
          `registry ${this.displayHost} sent more than ${MAX_LIST_PAGES} pages of ${what}`,
          { subject },
        );
      const res = await this.call({
        method: 'GET',
        url,
        scope,
        what,
        subject,
        headers: { accept: 'application/json' },
        ...signalOf(options),
      });
      if (res.status !== 200) return this.fail(res, what, subject);
      const body = await readBody(res.body, LIST_RESPONSE_LIMIT, subject, what);
      out.push(...parseList(body, field, what, this.displayHost, subject));
      const next = nextLink(res.headers.link, res.url);
      // A Link that points back at the same page would loop forever.
      url = next && next.href !== url.href ? next : undefined;
    }
    return out;
  }

  /**
   * Upload a blob monolithically (POST to open an upload, PUT the bytes with the digest).
   * Skips the upload when the registry already has it.
   */
  async putBlob(repo: string, data: Buffer, options: CallOptions = {}): Promise<BlobInfo> {
    const digest = digestOf(data);
    const subject = options.subject ?? this.imageName(repo, digest);
    if (await this.headBlob(repo, digest, options)) return { digest, size: data.length };
    const scope = `repository:${repo}:pull,push`;
    const what = `upload of blob ${digest}`;
    const start = await this.call({
      method: 'POST',
      url: this.url(`/v2/${repo}/blobs/uploads/`),
      scope,
      what,
      subject,
      ...signalOf(options),
    });
    if (start.status !== 202) return this.fail(start, what, subject);
    start.body.resume();
    const location = start.headers.location;
    if (!location)
      throw new PalisadeError('E_REGISTRY', `registry ${this.displayHost} sent no upload location for ${what}`, {
        subject,
      });
    const target = new URL(location, start.url);
    target.searchParams.set('digest', digest);
    const headers = { 'content-type': 'application/octet-stream' };
    const done = await this.call({
      method: 'PUT',
      url: target,
      scope,
      what,
      subject,
      headers,
      body: data,
      ...signalOf(options),
    });
    if (done.status !== 201 && done.status !== 204) return this.fail(done, what, subject);
    done.body.resume();
    return { digest, size: data.length };
  }

  /** Upload a manifest under a tag or its digest; returns its digest. */
  async putManifest(
    repo: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    options: CallOptions = {},
  ): Promise<string> {
    const digest = digestOf(bytes);
    const subject = options.subject ?? this.imageName(repo, reference);
    const what = `upload of manifest ${reference}`;
    const headers = { 'content-type': mediaType };
    const res = await this.call({
      method: 'PUT',
      url: this.url(`/v2/${repo}/manifests/${reference}`),
      scope: `repository:${repo}:pull,push`,
      what,
      subject,
      headers,
      body: bytes,
      ...signalOf(options),
    });
    if (res.status !== 201 && res.status !== 202 && res.status !== 200) return this.fail(res, what, subject);
    res.body.resume();
    return digest;
  }

  /** Close idle connections. */
  close(): void {
    this.transport.close();
  }

  /** Send with auth: the known header first; on a 401, answer the challenge and retry once. */
  private async call(req: CallRequest): Promise<TransportResponse> {
    const { scope, ...rest } = req;
    const known = await this.auth.headerFor(scope);
    const send = (authorization: string | undefined): Promise<TransportResponse> =>
      this.transport.request({
        ...rest,
        url: this.rebase(req.url),
        headers: { ...req.headers, ...(authorization ? { authorization } : {}) },
      });
    let res = await send(known);
    if (res.status !== 401) return res;
    const challenge = res.headers['www-authenticate'];
    res.body.resume();
    const header = await this.auth.respond(challenge, scope, req.subject, req.signal);
    res = await send(header);
    if (res.status !== 401) return res;
    res.body.resume();
    const msg = (await this.auth.hasCredentials())
      ? `authentication failed: registry ${this.displayHost} rejected the credentials`
      : `authentication required by registry ${this.displayHost} (no credentials configured)`;
    throw new PalisadeError('E_AUTH', msg, { subject: req.subject });
  }

  /** Follow an insecure-mode switch to http learned since the URL was built. */
  private rebase(url: URL): URL {
    if (url.host !== this.host) return url;
    const base = this.transport.baseUrl(this.host);
    if (url.protocol === base.protocol) return url;
    return new URL(url.href.replace(/^https?:/, base.protocol));
  }

  /** Turn a non-success answer into the right PalisadeError, with the registry's own message. */
  private async fail(res: TransportResponse, what: string, subject: string): Promise<never> {
    const text = await readErrorBody(res.body);
    const { codes, message } = registryErrors(text);
    const detail = message ? ` (${message})` : '';
    const host = this.displayHost;
    if (res.status === 403)
      throw new PalisadeError('E_AUTH', `access denied by registry ${host} fetching ${what}${detail}`, { subject });
    if (res.status === 401)
      throw new PalisadeError('E_AUTH', `authentication required by registry ${host} fetching ${what}`, { subject });
    if (res.status === 404 || codes.some((c) => REGISTRY_ERROR_CODES_NOT_FOUND.has(c))) {
      const thing = codes.includes('NAME_UNKNOWN') ? 'repository' : what;
      throw new PalisadeError('E_NOT_FOUND', `${thing} not found in registry ${host}${detail}`, { subject });
    }
    if (res.status === 429)
      throw new PalisadeError('E_REGISTRY', `registry ${host} is rate limiting (HTTP 429) fetching ${what}${detail}`, {
        subject,
      });
    throw new PalisadeError('E_REGISTRY', `registry ${host} answered HTTP ${res.status} fetching ${what}${detail}`, {
      subject,
    });
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function signalOf(options: CallOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

function parseList(
  body: Buffer,
  field: 'tags' | 'repositories',
  what: string,
  host: string,
  subject: string,
): string[] {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new PalisadeError('E_REGISTRY', `registry ${host} sent invalid JSON for ${what}`, { subject });
  }
  const list = json[field];
  // A repository without tags may come back as `"tags": null`.
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list) || !list.every((t): t is string => typeof t === 'string')) {
    throw new PalisadeError('E_REGISTRY', `registry ${host} sent a malformed ${what}`, { subject });
  }
  return list;
}
