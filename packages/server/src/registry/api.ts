/**
 * What report publishing needs from a registry: RegistryClient's pulls and pushes, plus two
 * calls RegistryClient does not offer: the OCI 1.1 referrers API (GET /v2/<repo>/referrers/<digest>)
 * and manifest deletion (DELETE /v2/<repo>/manifests/<digest>). Those two are implemented here
 * with node:http(s), with their own small auth (Basic, Docker bearer tokens from the realm the
 * registry names), because RegistryClient's transport and authenticator are private. They are
 * only used for these two calls, so token caching is per scope without expiry tracking: a
 * refused token is simply fetched again once.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { PalisadeError } from '@palisade/core';
import { parseChallenge, type RegistryClient } from '@palisade/oci';
import { OCI_INDEX_MEDIA_TYPE, PALISADE_USER_AGENT, isDigest } from './media-types.js';

/** An OCI descriptor as it appears in an index or a referrers response. */
export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface OciIndex {
  schemaVersion: 2;
  mediaType: typeof OCI_INDEX_MEDIA_TYPE;
  manifests: OciDescriptor[];
  annotations?: Record<string, string>;
}

export type DeleteOutcome =
  | { deleted: true }
  /** The registry refused (deletion disabled: 405 UNSUPPORTED; or 403): the manifest stays. */
  | { deleted: false; reason: string };

/** The subset of RegistryClient report publishing uses, plus referrers and delete. */
export interface ReportRegistryClient extends Pick<
  RegistryClient,
  'getManifest' | 'getBlobBytes' | 'putBlob' | 'putManifest' | 'imageName'
> {
  /**
   * The referrers of `digest` (filtered to `artifactType` when given; the filter is also applied
   * here, since a registry may ignore it), or undefined when the registry has no referrers API.
   */
  getReferrers(repo: string, digest: string, artifactType?: string): Promise<OciDescriptor[] | undefined>;
  /** Delete a manifest by digest. Never called with a tag: deleting by tag would touch user tags. */
  deleteManifest(repo: string, digest: string): Promise<DeleteOutcome>;
}

export interface ReportRegistryOptions {
  /** `https://host[:port]` or `http://…` for a plain-HTTP registry (default https://<client.host>). */
  baseUrl?: string;
  /** Basic credentials (also sent to a token realm), or a bearer token used as is. */
  credentials?: { username: string; password: string } | { token: string };
  caFiles?: string[];
  /** Skip TLS verification (registries added with `insecure`). */
  insecureSkipVerify?: boolean;
  /** Per request, ms (default 30000). */
  timeoutMs?: number;
  userAgent?: string;
}

const REFERRERS_RESPONSE_LIMIT = 4 * 1024 * 1024;
const ERROR_BODY_LIMIT = 64 * 1024;

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Wrap a RegistryClient; referrers and delete go to `options.baseUrl` with `options.credentials`. */
export function createReportRegistryClient(
  client: RegistryClient,
  options: ReportRegistryOptions = {},
): ReportRegistryClient {
  const base = new URL(options.baseUrl ?? `https://${client.host}`);
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new PalisadeError('E_CONFIG', `registry URL must be http(s), got ${base.protocol}`, { subject: base.href });
  const ca = options.caFiles?.map((f) => readFileSync(f));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const userAgent = options.userAgent ?? PALISADE_USER_AGENT;
  const tokens = new Map<string, string>();

  const send = (method: string, url: URL, headers: Record<string, string>, limit: number): Promise<RawResponse> =>
    new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(
        url,
        {
          method,
          headers: { 'user-agent': userAgent, ...headers },
          timeout: timeoutMs,
          ...(url.protocol === 'https:'
            ? { ...(ca ? { ca } : {}), rejectUnauthorized: options.insecureSkipVerify !== true }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > limit) {
              res.destroy();
              reject(
                new PalisadeError('E_TOO_LARGE', `response to ${method} ${url.pathname} is over ${limit} bytes`, {
                  subject: client.displayHost,
                }),
              );
              return;
            }
            chunks.push(c);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(
          new PalisadeError('E_TIMEOUT', `registry did not answer ${method} ${url.pathname} within ${timeoutMs} ms`, {
            subject: client.displayHost,
          }),
        ),
      );
      req.on('error', (err) =>
        reject(
          err instanceof PalisadeError
            ? err
            : new PalisadeError('E_NETWORK', `${method} ${url.pathname} failed: ${err.message}`, {
                subject: client.displayHost,
                cause: err,
              }),
        ),
      );
      req.end();
    });

  /** The Authorization header answering a 401 challenge for `scope`. */
  const answer = async (challengeHeader: string | string[] | undefined, scope: string): Promise<string> => {
    const creds = options.credentials;
    const challenge = parseChallenge(Array.isArray(challengeHeader) ? challengeHeader[0] : challengeHeader);
    const noCreds = (): PalisadeError =>
      new PalisadeError(
        'E_AUTH',
        `authentication required by registry ${client.displayHost} (no credentials configured)`,
        {
          subject: client.displayHost,
        },
      );
    if (creds && 'token' in creds) return `Bearer ${creds.token}`;
    const basic = creds ? 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64') : undefined;
    if (challenge?.scheme === 'basic') {
      if (!basic) throw noCreds();
      return basic;
    }
    const realm = challenge?.params['realm'];
    if (challenge?.scheme !== 'bearer' || !realm)
      throw new PalisadeError(
        'E_REGISTRY',
        `registry ${client.displayHost} sent an unusable authentication challenge`,
        {
          subject: client.displayHost,
        },
      );
    const tokenUrl = new URL(realm);
    if (challenge.params['service']) tokenUrl.searchParams.set('service', challenge.params['service']);
    // The challenge names the scope the registry wants (e.g. `…:delete`); prefer it to our guess.
    tokenUrl.searchParams.set('scope', challenge.params['scope'] ?? scope);
    const res = await send('GET', tokenUrl, basic ? { authorization: basic } : {}, 1024 * 1024);
    if (res.status === 401 || res.status === 403)
      throw new PalisadeError('E_AUTH', `token server of ${client.displayHost} rejected the credentials`, {
        subject: client.displayHost,
      });
    if (res.status !== 200)
      throw new PalisadeError('E_REGISTRY', `token server of ${client.displayHost} answered HTTP ${res.status}`, {
        subject: client.displayHost,
      });
    let token: unknown;
    try {
      const json = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      token = json['token'] ?? json['access_token'];
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '')
      throw new PalisadeError('E_REGISTRY', `token server of ${client.displayHost} sent no token`, {
        subject: client.displayHost,
      });
    return `Bearer ${token}`;
  };

  const call = async (
    method: 'GET' | 'DELETE',
    path: string,
    scope: string,
    headers: Record<string, string>,
    limit: number,
  ): Promise<RawResponse> => {
    const url = new URL(path, base);
    const known = tokens.get(scope);
    let res = await send(method, url, { ...headers, ...(known ? { authorization: known } : {}) }, limit);
    if (res.status !== 401) return res;
    const header = await answer(res.headers['www-authenticate'], scope);
    tokens.set(scope, header);
    res = await send(method, url, { ...headers, authorization: header }, limit);
    if (res.status === 401)
      throw new PalisadeError('E_AUTH', `registry ${client.displayHost} rejected the credentials`, {
        subject: client.displayHost,
      });
    return res;
  };

  const registryMessage = (res: RawResponse): string => {
    const text = res.body.subarray(0, ERROR_BODY_LIMIT).toString('utf8');
    try {
      const json = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
      const first = json.errors?.[0];
      if (first) return [first.code, first.message].filter((x) => typeof x === 'string').join(': ');
    } catch {
      // Not the registry's JSON error shape: show a bit of the text.
    }
    return text.replace(/\s+/g, ' ').trim().slice(0, 200);
  };

  return {
    getManifest: (...args) => client.getManifest(...args),
    getBlobBytes: (...args) => client.getBlobBytes(...args),
    putBlob: (...args) => client.putBlob(...args),
    putManifest: (...args) => client.putManifest(...args),
    imageName: (...args) => client.imageName(...args),

    async getReferrers(repo, digest, artifactType): Promise<OciDescriptor[] | undefined> {
      if (!isDigest(digest)) throw new PalisadeError('E_INPUT', 'not a digest', { subject: digest });
      const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
      const subject = client.imageName(repo, digest);
      const res = await call(
        'GET',
        `/v2/${repo}/referrers/${digest}${query}`,
        `repository:${repo}:pull`,
        { accept: OCI_INDEX_MEDIA_TYPE },
        REFERRERS_RESPONSE_LIMIT,
      );
      // The spec's signal for "no referrers API": 404. Registries that predate it (distribution
      // 2.8) answer 404 for the unknown route; some proxies answer 405 or 400.
      if (res.status === 404 || res.status === 405 || res.status === 400) return undefined;
      if (res.status !== 200)
        throw new PalisadeError(
          'E_REGISTRY',
          `registry ${client.displayHost} answered HTTP ${res.status} listing referrers (${registryMessage(res)})`,
          { subject },
        );
      const index = parseOciIndex(res.body, `referrers of ${digest} from ${client.displayHost}`, subject);
      return artifactType ? index.manifests.filter((d) => d.artifactType === artifactType) : index.manifests;
    },

    async deleteManifest(repo, digest): Promise<DeleteOutcome> {
      if (!isDigest(digest))
        throw new PalisadeError('E_INPUT', 'manifests are deleted by digest only', { subject: digest });
      const subject = client.imageName(repo, digest);
      const res = await call(
        'DELETE',
        `/v2/${repo}/manifests/${digest}`,
        `repository:${repo}:delete`,
        {},
        ERROR_BODY_LIMIT,
      );
      if (res.status === 202 || res.status === 200 || res.status === 204) return { deleted: true };
      // Already gone is what we wanted.
      if (res.status === 404) return { deleted: true };
      if (res.status === 405 || res.status === 403)
        return { deleted: false, reason: `HTTP ${res.status} ${registryMessage(res)}`.trim() };
      throw new PalisadeError(
        'E_REGISTRY',
        `registry ${client.displayHost} answered HTTP ${res.status} deleting manifest ${digest} (${registryMessage(res)})`,
        { subject },
      );
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Parse an OCI image index (a referrers response or a referrers tag schema index). */
export function parseOciIndex(bytes: Buffer, what: string, subject: string): OciIndex {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new PalisadeError('E_REGISTRY', `${what} is not JSON`, { subject });
  }
  if (!isRecord(json) || !Array.isArray(json['manifests']))
    throw new PalisadeError('E_REGISTRY', `${what} is not an OCI image index`, { subject });
  const manifests: OciDescriptor[] = [];
  for (const d of json['manifests']) {
    if (!isRecord(d)) continue;
    const { mediaType, digest, size, artifactType } = d;
    if (typeof mediaType !== 'string' || typeof digest !== 'string' || typeof size !== 'number') {
      throw new PalisadeError('E_REGISTRY', `${what} has a malformed descriptor`, { subject });
    }
    const annotations = stringMap(d['annotations']);
    manifests.push({
      mediaType,
      digest,
      size,
      ...(typeof artifactType === 'string' ? { artifactType } : {}),
      ...(annotations ? { annotations } : {}),
    });
  }
  const annotations = stringMap(json['annotations']);
  return { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests, ...(annotations ? { annotations } : {}) };
}
