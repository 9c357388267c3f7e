/**
 * HTTP(S) for registry calls on Node's built-ins: keep-alive agents, extra CAs, a timeout until
 * the response headers arrive, a body-stall timeout (no bytes for `timeoutMs` while the reader
 * wants more), bounded retries for 429/5xx and stale keep-alive resets, and the insecure
 * https→http fallback. Every failure leaves here as a PalisadeError naming host and action.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { PassThrough, type Readable } from 'node:stream';
import { PalisadeError } from '@palisade/core';

export interface TransportOptions {
  /** Allow plain HTTP (https is tried first) and skip certificate verification. */
  insecure?: boolean;
  /** PEM files of extra CAs to trust. */
  caFiles?: string[];
  /** Response-header and body-stall timeout, ms. */
  timeoutMs?: number;
  userAgent?: string;
  /** Attempts for 429/5xx and connection resets before giving up (default 3). */
  maxAttempts?: number;
  /** First retry delay, doubled each time (default 250 ms). */
  retryBaseMs?: number;
}

export interface TransportRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
  /** What is being fetched, for messages: "manifest latest", "blob sha256:…". */
  what: string;
  /** The image (or other thing) the request is about, used as the error subject. */
  subject: string;
}

export interface TransportResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered (after an insecure fallback to http). */
  url: URL;
  /** The body, guarded by the stall timeout; consume or destroy it. */
  body: Readable;
}

type FailureKind = 'timeout' | 'refused' | 'reset' | 'tls-protocol' | 'tls-cert' | 'dns' | 'aborted' | 'other';

/** A failed exchange before any response: what kind, and the error to show if it is final. */
class ExchangeFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly error: PalisadeError,
  ) {
    super(error.message);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const RETRY_AFTER_CAP_MS = 5_000;
const TLS_CERT_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Map a socket/TLS error to a failure kind and a one-line message (no URLs with secrets: none are sent). */
function classify(err: unknown, url: URL, what: string, subject: string): ExchangeFailure {
  if (err instanceof PalisadeError) return new ExchangeFailure(err.code === 'E_TIMEOUT' ? 'timeout' : 'aborted', err);
  const code = errorCode(err);
  const host = url.host;
  const net = (kind: FailureKind, msg: string): ExchangeFailure =>
    new ExchangeFailure(kind, new PalisadeError('E_NETWORK', msg, { subject, cause: err }));
  if (code === 'ECONNREFUSED')
    return net('refused', `cannot connect to registry ${host} (connection refused) fetching ${what}`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return net('dns', `cannot resolve registry host ${url.hostname} fetching ${what}`);
  if (TLS_CERT_CODES.has(code)) {
    return net(
      'tls-cert',
      `TLS certificate of registry ${host} is not trusted (${code}); add its CA with --ca-file or use --insecure`,
    );
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) {
    return net(
      'tls-protocol',
      `TLS handshake with registry ${host} failed (${code}); if it serves plain HTTP, use --insecure`,
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') {
    return net('reset', `connection to registry ${host} was reset fetching ${what}`);
  }
  const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return net('other', `request to registry ${host} failed fetching ${what}: ${detail}`);
}

function loadCas(files: readonly string[]): string[] {
  return files.map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new PalisadeError('E_INPUT', `cannot read CA file: ${errorCode(err) || String(err)}`, {
        subject: file,
        cause: err,
      });
    }
  });
}

const delay = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Parse Retry-After (seconds or an HTTP date) into ms, capped so a registry cannot stall us. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS) : undefined;
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

export class Transport {
  readonly timeoutMs: number;
  readonly insecure: boolean;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly userAgent: string;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  /** Hosts found to speak plain HTTP (insecure mode only). */
  private readonly plainHosts = new Set<string>();

  constructor(options: TransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.insecure = options.insecure ?? false;
    this.userAgent = options.userAgent ?? 'palisade';
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.retryBaseMs = options.retryBaseMs ?? 250;
    const extra = loadCas(options.caFiles ?? []);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      // `ca` replaces Node's roots, so the public roots are kept alongside the extra CAs.
      ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}),
      rejectUnauthorized: !this.insecure,
    });
  }

  /** The base URL for a registry host: https, or http once an insecure host proved plain. */
  baseUrl(host: string): URL {
    return new URL(`${this.plainHosts.has(host) ? 'http' : 'https'}://${host}`);
  }

  /**
   * Send with retries: 429/5xx and resets are retried with backoff (the last answer is returned,
   * so callers can report the registry's message); in insecure mode an https URL whose server
   * does not speak TLS is retried over http, and that host is remembered.
   */
  async request(req: TransportRequest): Promise<TransportResponse> {
    let url = req.url;
    for (let attempt = 1; ; attempt++) {
      let res: TransportResponse;
      try {
        res = await this.exchange({ ...req, url });
      } catch (err) {
        if (!(err instanceof ExchangeFailure)) throw err;
        if (err.kind === 'tls-protocol' && this.insecure && url.protocol === 'https:') {
          this.plainHosts.add(url.host);
          url = new URL(url.href.replace(/^https:/, 'http:'));
          attempt--; // the switch to http is not a retry
          continue;
        }
        if (err.kind === 'reset' && attempt < this.maxAttempts) {
          await delay(this.backoff(attempt), req.signal);
          continue;
        }
        throw err.error;
      }
      if (!isRetryableStatus(res.status) || attempt >= this.maxAttempts || req.signal?.aborted) return res;
      res.body.resume();
      await delay(retryAfterMs(res.headers['retry-after']) ?? this.backoff(attempt), req.signal);
    }
  }

  private backoff(attempt: number): number {
    return this.retryBaseMs * 2 ** (attempt - 1);
  }

  /** One request/response exchange, no retries. Rejects with ExchangeFailure. */
  private exchange(req: TransportRequest): Promise<TransportResponse> {
    const { url } = req;
    const mod = url.protocol === 'http:' ? http : https;
    const agent = url.protocol === 'http:' ? this.httpAgent : this.httpsAgent;
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
    if (req.body) headers['content-length'] = String(req.body.length);
    return new Promise<TransportResponse>((resolve, reject) => {
      const clientReq = mod.request(url, { method: req.method, headers, agent });
      const fail = (err: unknown): void => reject(classify(err, url, req.what, req.subject));
      const timer = setTimeout(() => {
        const msg = `registry ${url.host} did not answer within ${this.timeoutMs} ms fetching ${req.what}`;
        clientReq.destroy(new PalisadeError('E_TIMEOUT', msg, { subject: req.subject }));
      }, this.timeoutMs);
      const onAbort = (): void => {
        clientReq.destroy(
          new PalisadeError('E_TIMEOUT', `cancelled fetching ${req.what} from ${url.host}`, { subject: req.subject }),
        );
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
      };
      clientReq.on('error', (err) => {
        cleanup();
        fail(err);
      });
      clientReq.on('response', (res) => {
        cleanup();
        const body = guardBody(res, this.timeoutMs, url, req);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body });
      });
      if (req.signal?.aborted) onAbort();
      clientReq.end(req.body);
    });
  }

  /** Close idle keep-alive sockets. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/**
 * Copy a response body into a stream that fails with E_TIMEOUT when the server sends nothing
 * for `timeoutMs` while the reader is waiting, and with E_NETWORK when the connection ends
 * before the body is complete. The timer is off while the reader applies backpressure, so a
 * slow consumer never looks like a stalled server.
 */
function guardBody(res: http.IncomingMessage, timeoutMs: number, url: URL, req: TransportRequest): Readable {
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  let timer: NodeJS.Timeout | undefined;
  let received = 0;
  let finished = false;
  const expected = Number(res.headers['content-length'] ?? NaN);
  const disarm = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const failWith = (err: PalisadeError): void => {
    if (finished) return;
    finished = true;
    disarm();
    res.destroy();
    out.destroy(err);
  };
  const progress = (): string => (Number.isFinite(expected) ? `${received} of ${expected} bytes` : `${received} bytes`);
  const arm = (): void => {
    disarm();
    timer = setTimeout(() => {
      const msg = `registry ${url.host} stopped sending ${req.what} for ${timeoutMs} ms (after ${progress()})`;
      failWith(new PalisadeError('E_TIMEOUT', msg, { subject: req.subject }));
    }, timeoutMs);
  };
  const broken = (cause?: unknown): void => {
    const msg = `connection to registry ${url.host} broke while receiving ${req.what} (after ${progress()})`;
    failWith(new PalisadeError('E_NETWORK', msg, { subject: req.subject, cause }));
  };
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (out.write(chunk)) return arm();
    disarm();
    res.pause();
    out.once('drain', () => {
      if (finished) return;
      arm();
      res.resume();
    });
  });
  res.on('end', () => {
    if (finished) return;
    if (!res.complete) return broken();
    finished = true;
    disarm();
    out.end();
  });
  res.on('error', (err) => broken(err));
  res.on('close', () => {
    if (!finished && !res.complete) broken();
  });
  // A reader that gives up early must not leave the socket streaming into nowhere.
  out.on('close', () => {
    disarm();
    if (!finished) {
      finished = true;
      res.destroy();
    }
  });
  arm();
  return out;
}

/** Read a body into memory, failing with E_TOO_LARGE past `limit` bytes. */
export async function readBody(body: Readable, limit: number, subject: string, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new PalisadeError('E_TOO_LARGE', `${what} is larger than the ${limit} byte limit`, { subject });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Read at most `limit` bytes of a body for an error message; never throws. */
export async function readErrorBody(body: Readable, limit = 64 * 1024): Promise<string> {
  try {
    return (await readBody(body, limit, '', 'error body')).toString('utf8');
  } catch {
    body.destroy();
    return '';
  }
}
