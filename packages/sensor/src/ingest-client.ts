/**
 * HTTPS client for `POST /api/v1/ingest/runtime`: gzip'd JSON, `Authorization: Bearer <cluster
 * ingest token>`, the system roots plus an optional custom CA, and an HTTP CONNECT tunnel
 * through the proxy HTTPS_PROXY names (unless NO_PROXY excludes the server). Built on node:http
 * and node:tls only.
 *
 * Outcomes of one send():
 * - 2xx: the result; the batch is stored (or was already: `accepted: false`).
 * - network error, timeout, 408/425/429/5xx, other unexpected statuses: retried in place with
 *   exponential backoff and jitter (half fixed, half random) (Retry-After honoured), up to `maxAttempts`, then an
 *   IngestError of kind `retryable` (the caller keeps the batch and tries again later).
 * - 400/422: `rejected` (the batch itself is bad: sending it again cannot help).
 * - 413: `too-large` (the caller splits the batch).
 * - 401/403: `unauthorized` (the token is wrong or revoked).
 * The token never appears in an error, a log line or a stat.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { PALISADE_VERSION, PalisadeError, type RuntimeIngestBatch, type RuntimeIngestResult } from '@palisade/core';
import { proxyForUrl, redactProxy, urlPort } from './ingest-client-proxy.js';

const gzip = promisify(zlib.gzip);

export const INGEST_RUNTIME_PATH = 'api/v1/ingest/runtime';

export type IngestErrorKind = 'retryable' | 'rejected' | 'too-large' | 'unauthorized' | 'aborted';

export class IngestError extends PalisadeError {
  constructor(
    readonly kind: IngestErrorKind,
    message: string,
    readonly status?: number,
    subject?: string,
  ) {
    super(
      kind === 'unauthorized'
        ? 'E_AUTH'
        : kind === 'too-large'
          ? 'E_TOO_LARGE'
          : kind === 'rejected'
            ? 'E_INPUT'
            : kind === 'aborted'
              ? 'E_TIMEOUT'
              : 'E_NETWORK',
      message,
      { subject },
    );
  }
}

export interface IngestClientOptions {
  /** The server's base URL (`https://palisade.example.com`); the ingest path is appended. */
  url: string;
  /** The cluster's ingest token, or a function returning the current one (re-read per send). */
  token: string | (() => string);
  /** PEM file of extra CA certificates, trusted in addition to the system roots. */
  caFile?: string;
  /** Skip certificate verification (testing only; logged loudly by the CLI). */
  insecure?: boolean;
  /** Where proxy variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Per attempt: connect + TLS + request + response (default 30 s). */
  timeoutMs?: number;
  /** Attempts per send() before giving up with a `retryable` error (default 4). */
  maxAttempts?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Cap on a server's Retry-After (default 5 min). */
  retryAfterMaxMs?: number;
  /** For tests: deterministic jitter. */
  random?: () => number;
}

export interface IngestClientStats {
  requests: number;
  retries: number;
  networkErrors: number;
  byStatus: Record<string, number>;
  bytesSent: number;
  bytesUncompressed: number;
}

export interface IngestClient {
  readonly endpoint: string;
  /** The proxy in use for the endpoint (without credentials), if any. */
  readonly proxy: string | undefined;
  send(batch: RuntimeIngestBatch, opts?: { signal?: AbortSignal }): Promise<RuntimeIngestResult>;
  /** A short hash of the current token, to notice a rotated token without keeping it around. */
  tokenFingerprint(): string;
  stats(): IngestClientStats;
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function loadCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PalisadeError(
      'E_CONFIG',
      `cannot read the CA file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        subject: file,
        cause: err,
      },
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new PalisadeError('E_CONFIG', 'CA file holds no PEM certificate', { subject: file });
  return pem;
}

function parseRetryAfter(v: string | undefined, now: number): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** A one-line, bounded excerpt of an error body (the server's message when it sent JSON). */
function errorText(body: string): string {
  let text = body;
  try {
    const v = JSON.parse(body) as { error?: unknown; message?: unknown };
    const e = v.error;
    if (typeof e === 'string') text = e;
    else if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string')
      text = (e as { message: string }).message;
    else if (typeof v.message === 'string') text = v.message;
  } catch {
    // not JSON: use the text itself
  }
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function parseResult(body: string, batch: RuntimeIngestBatch): RuntimeIngestResult {
  try {
    const v = JSON.parse(body) as Partial<RuntimeIngestResult>;
    if (typeof v === 'object' && v !== null && typeof v.accepted === 'boolean') {
      return {
        batchId: typeof v.batchId === 'string' ? v.batchId : batch.batchId,
        accepted: v.accepted,
        alerts: typeof v.alerts === 'number' ? v.alerts : 0,
        events: typeof v.events === 'number' ? v.events : 0,
        duplicates: typeof v.duplicates === 'number' ? v.duplicates : 0,
      };
    }
  } catch {
    // A 2xx without the expected body still means the server stored the batch.
  }
  return {
    batchId: batch.batchId,
    accepted: true,
    alerts: batch.alerts.length,
    events: batch.events.length,
    duplicates: 0,
  };
}

export function createIngestClient(opts: IngestClientOptions): IngestClient {
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw new PalisadeError('E_CONFIG', 'is not a valid URL', { subject: opts.url });
  }
  if (base.protocol !== 'https:')
    throw new PalisadeError('E_CONFIG', 'the server URL must be https://', { subject: opts.url });
  if (base.username || base.password)
    throw new PalisadeError('E_CONFIG', 'the server URL must not carry credentials', { subject: base.host });
  const endpoint = new URL(INGEST_RUNTIME_PATH, base.href.endsWith('/') ? base.href : `${base.href}/`);
  const env = opts.env ?? process.env;
  const proxy = proxyForUrl(endpoint, env);
  const ca = opts.caFile !== undefined ? [...tls.rootCertificates, loadCa(opts.caFile)] : undefined;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
  const backoffInitial = opts.backoffInitialMs ?? 500;
  const backoffMax = opts.backoffMaxMs ?? 30_000;
  const retryAfterMax = opts.retryAfterMaxMs ?? 5 * 60_000;
  const random = opts.random ?? Math.random;
  const token = typeof opts.token === 'function' ? opts.token : (): string => opts.token as string;
  const host = endpoint.hostname.replace(/^\[|\]$/g, '');
  const port = urlPort(endpoint);
  const stats: IngestClientStats = {
    requests: 0,
    retries: 0,
    networkErrors: 0,
    byStatus: {},
    bytesSent: 0,
    bytesUncompressed: 0,
  };
  // The certificate is always checked against the server's host, never against whatever
  // else Node might pick: through a CONNECT tunnel `tls.connect({socket})` would otherwise
  // fall back to the tunnel socket's host — the proxy's name. SNI only for DNS names (an IP
  // address must not be sent as SNI, RFC 6066 §3).
  const tlsOpts = (): tls.ConnectionOptions => ({
    ...(ca ? { ca } : {}),
    rejectUnauthorized: opts.insecure !== true,
    host,
    ...(net.isIP(host) === 0 ? { servername: host } : {}),
    checkServerIdentity: (_name: string, cert: tls.PeerCertificate): Error | undefined =>
      tls.checkServerIdentity(host, cert),
    ALPNProtocols: ['http/1.1'],
  });

  /** A TCP connection to the server through the proxy (HTTP CONNECT). */
  const tunnel = (p: URL, signal: AbortSignal): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const authority = net.isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
      const headers: Record<string, string> = { Host: authority, 'User-Agent': `palisade/${PALISADE_VERSION}` };
      if (p.username !== '')
        headers['Proxy-Authorization'] =
          'Basic ' +
          Buffer.from(`${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`).toString('base64');
      const reqOpts: http.RequestOptions = {
        host: p.hostname.replace(/^\[|\]$/g, ''),
        port: urlPort(p),
        method: 'CONNECT',
        path: authority,
        headers,
        agent: false,
        signal,
      };
      const req =
        p.protocol === 'https:' ? https.request({ ...reqOpts, ...(ca ? { ca } : {}) }) : http.request(reqOpts);
      req.once('connect', (res, socket, head) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          reject(new IngestError('retryable', `proxy ${redactProxy(p)} refused CONNECT (${res.statusCode})`));
          return;
        }
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.once('error', (err: NodeJS.ErrnoException) =>
        reject(new IngestError('retryable', `proxy ${redactProxy(p)}: ${err.code ?? err.message}`)),
      );
      req.end();
    });

  const secure = async (signal: AbortSignal): Promise<tls.TLSSocket> => {
    const raw = proxy ? await tunnel(proxy, signal) : undefined;
    return new Promise((resolve, reject) => {
      const s = tls.connect({ ...tlsOpts(), ...(raw ? { socket: raw } : { port }) });
      const onAbort = (): void => {
        s.destroy();
        reject(new IngestError('retryable', 'timed out'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      s.once('secureConnect', () => {
        signal.removeEventListener('abort', onAbort);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        reject(new IngestError('retryable', err.code ?? err.message));
      });
    });
  };

  const postOnce = async (body: Buffer, signal: AbortSignal): Promise<Response> => {
    const sock = await secure(signal);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method: 'POST',
          host,
          port,
          path: `${endpoint.pathname}${endpoint.search}`,
          headers: {
            Host: endpoint.host,
            'Content-Type': 'application/json',
            'Content-Encoding': 'gzip',
            'Content-Length': String(body.length),
            Authorization: `Bearer ${token()}`,
            'User-Agent': `palisade-publisher/${PALISADE_VERSION}`,
            Connection: 'close',
          },
          createConnection: () => sock,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            // Only the start of a body is ever needed (a result or an error message).
            if (size < 1024 * 1024) chunks.push(c);
            size += c.length;
          });
          res.once('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.once('error', (err) => reject(new IngestError('retryable', err.message)));
        },
      );
      req.once('error', (err: NodeJS.ErrnoException) => {
        sock.destroy();
        reject(new IngestError('retryable', signal.aborted ? 'timed out' : (err.code ?? err.message)));
      });
      req.end(body);
    });
  };

  const attempt = async (body: Buffer, outer: AbortSignal | undefined): Promise<Response> => {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), timeoutMs);
    const onOuter = (): void => ctl.abort();
    outer?.addEventListener('abort', onOuter, { once: true });
    try {
      stats.requests++;
      return await postOnce(body, ctl.signal);
    } finally {
      clearTimeout(t);
      outer?.removeEventListener('abort', onOuter);
    }
  };

  const send = async (batch: RuntimeIngestBatch, o: { signal?: AbortSignal } = {}): Promise<RuntimeIngestResult> => {
    const json = Buffer.from(JSON.stringify(batch), 'utf8');
    const body = await gzip(json);
    let last: IngestError = new IngestError('retryable', 'not sent', undefined, endpoint.host);
    for (let i = 1; i <= maxAttempts; i++) {
      if (o.signal?.aborted) throw new IngestError('aborted', 'send aborted', undefined, endpoint.host);
      let res: Response;
      try {
        res = await attempt(body, o.signal);
      } catch (err) {
        stats.networkErrors++;
        if (o.signal?.aborted) throw new IngestError('aborted', 'send aborted', undefined, endpoint.host);
        last =
          err instanceof IngestError
            ? new IngestError('retryable', err.message, undefined, endpoint.host)
            : new IngestError('retryable', err instanceof Error ? err.message : String(err), undefined, endpoint.host);
        await backoff(i, undefined, o.signal);
        continue;
      }
      stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
      if (res.status >= 200 && res.status < 300) {
        stats.bytesSent += body.length;
        stats.bytesUncompressed += json.length;
        return parseResult(res.body, batch);
      }
      const why = `${res.status}${res.body ? `: ${errorText(res.body)}` : ''}`;
      if (res.status === 401 || res.status === 403)
        throw new IngestError(
          'unauthorized',
          `the server refused the ingest token (${why})`,
          res.status,
          endpoint.host,
        );
      if (res.status === 413) throw new IngestError('too-large', `batch too large (${why})`, res.status, endpoint.host);
      if (res.status === 400 || res.status === 422)
        throw new IngestError('rejected', `batch rejected (${why})`, res.status, endpoint.host);
      last = new IngestError('retryable', `server answered ${why}`, res.status, endpoint.host);
      await backoff(i, parseRetryAfter(headerValue(res.headers['retry-after']), Date.now()), o.signal);
    }
    throw last;
  };

  const backoff = async (attemptNo: number, retryAfterMs: number | undefined, signal?: AbortSignal): Promise<void> => {
    if (attemptNo >= maxAttempts) return;
    stats.retries++;
    const exp = Math.min(backoffMax, backoffInitial * 2 ** (attemptNo - 1));
    const delay =
      retryAfterMs !== undefined ? Math.min(retryAfterMax, retryAfterMs) : Math.round(exp / 2 + (random() * exp) / 2);
    await sleep(delay, signal);
  };

  return {
    endpoint: endpoint.href,
    proxy: proxy ? redactProxy(proxy) : undefined,
    send,
    tokenFingerprint: (): string => createHash('sha256').update(token()).digest('hex').slice(0, 12),
    stats: (): IngestClientStats => ({ ...stats, byStatus: { ...stats.byStatus } }),
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
