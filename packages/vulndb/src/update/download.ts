/**
 * Resumable HTTP(S) download: data goes to `<dest>.part`; a later attempt (in this run after a
 * dropped connection, or in the next run) continues it with a Range request, guarded by If-Range
 * on the validator saved in `<dest>.part.meta` so a changed file restarts from zero. The final size
 * is checked against Content-Length/Content-Range before the file is renamed into place.
 */
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { PALISADE_VERSION, PalisadeError } from '@palisade/core';

export interface Progress {
  feed: string;
  received: number;
  /** Total bytes when the server said; undefined otherwise. */
  total?: number;
}

export interface DownloadOptions {
  feed: string;
  onProgress?: (p: Progress) => void;
  /** Attempts per file, resuming each time (default 5). */
  attempts?: number;
  /** Socket inactivity timeout (default 60 s). */
  timeoutMs?: number;
}

interface Attempt {
  done: boolean;
  total?: number;
}

const MAX_REDIRECTS = 5;

function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

function validator(metaPath: string): string | undefined {
  try {
    return readFileSync(metaPath, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function httpError(url: string, feed: string, status: number): PalisadeError {
  const code = status === 404 ? 'E_NOT_FOUND' : 'E_NETWORK';
  return new PalisadeError(code, `feed "${feed}" download failed: HTTP ${status}`, { subject: url });
}

function totalFrom(res: http.IncomingMessage, offset: number): number | undefined {
  const range = /\/(\d+)\s*$/.exec(res.headers['content-range'] ?? '');
  if (range) return Number(range[1]);
  const len = res.headers['content-length'];
  return len === undefined ? undefined : offset + Number(len);
}

function request(url: string, headers: Record<string, string>, timeoutMs: number): Promise<http.IncomingMessage> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { headers: { 'user-agent': `palisade/${PALISADE_VERSION}`, ...headers } }, resolve);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function open(
  url: string,
  headers: Record<string, string>,
  o: DownloadOptions,
): Promise<{ res: http.IncomingMessage; url: string }> {
  let current = url;
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    const res = await request(current, headers, o.timeoutMs ?? 60_000);
    const loc = res.headers.location;
    if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && loc) {
      res.resume();
      current = new URL(loc, current).toString();
      continue;
    }
    return { res, url: current };
  }
  throw new PalisadeError('E_NETWORK', `feed "${o.feed}": more than ${MAX_REDIRECTS} redirects`, { subject: url });
}

/** One request: append what arrives to the part file. Resolves done=false when the stream broke. */
async function attempt(url: string, part: string, o: DownloadOptions): Promise<Attempt> {
  const offset = sizeOf(part);
  const headers: Record<string, string> = {};
  const v = validator(`${part}.meta`);
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    if (v) headers['if-range'] = v;
  }
  const { res } = await open(url, headers, o);
  const status = res.statusCode ?? 0;
  if (status === 416 && offset > 0) {
    // Nothing past our offset: the part already holds the whole file (checked by the caller).
    res.resume();
    return { done: true, total: totalFrom(res, 0) ?? offset };
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw httpError(url, o.feed, status);
  }
  const start = status === 206 ? offset : 0;
  const total = totalFrom(res, start);
  const tag = res.headers.etag ?? res.headers['last-modified'];
  if (tag) writeFileSync(`${part}.meta`, tag);
  return stream(res, part, start, total, o);
}

function stream(
  res: http.IncomingMessage,
  part: string,
  start: number,
  total: number | undefined,
  o: DownloadOptions,
): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
    let received = start;
    let broken = false;
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      o.onProgress?.({ feed: o.feed, received, ...(total === undefined ? {} : { total }) });
    });
    res.on('aborted', () => (broken = true));
    res.on('error', () => (broken = true));
    out.on('error', (err) =>
      reject(new PalisadeError('E_INPUT', `cannot write download: ${err.message}`, { subject: part, cause: err })),
    );
    out.on('close', () =>
      resolve({
        done: !broken && (total === undefined || received >= total),
        ...(total === undefined ? {} : { total }),
      }),
    );
    res.pipe(out);
    res.on('close', () => {
      if (!res.complete) broken = true;
      out.end();
    });
  });
}

/** Download `url` to `dest`, resuming a `.part` left by an earlier attempt. */
export async function downloadFile(url: string, dest: string, o: DownloadOptions): Promise<void> {
  const part = `${dest}.part`;
  const attempts = o.attempts ?? 5;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    let result: Attempt;
    try {
      result = await attempt(url, part, o);
    } catch (err) {
      if (err instanceof PalisadeError && err.code !== 'E_NETWORK') throw err;
      if (err instanceof PalisadeError && /HTTP \d/.test(err.message)) throw err;
      lastError = err;
      continue;
    }
    if (!result.done) continue;
    const size = sizeOf(part);
    if (result.total !== undefined && size !== result.total) {
      // More bytes than announced: the part is not this file; start over.
      rmSync(part, { force: true });
      lastError = new Error(`size ${size} does not match the announced ${result.total}`);
      continue;
    }
    renameSync(part, dest);
    rmSync(`${part}.meta`, { force: true });
    return;
  }
  const why = lastError instanceof Error ? lastError.message : 'connection kept breaking';
  throw new PalisadeError(
    'E_NETWORK',
    `feed "${o.feed}" download incomplete after ${attempts} attempts (${why}); run again to resume`,
    {
      subject: url,
      cause: lastError,
    },
  );
}
