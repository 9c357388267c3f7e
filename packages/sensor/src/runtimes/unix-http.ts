/**
 * GET JSON over a unix socket (the Docker Engine and libpod REST APIs), with one deadline
 * for connect, headers and body and a bound on the body size. Local sockets only: there is
 * no TCP variant on purpose (a runtime API over TCP is a remote root shell).
 */
import { request, type IncomingMessage } from 'node:http';
import { PalisadeError } from '@palisade/core';

export interface UnixGetResult {
  status: number;
  body: unknown;
}

export interface UnixGetOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

/** The error codes that mean "nothing listens there": the runtime is not on this node. */
export const SOCKET_ABSENT = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'EACCES']);

export class SocketAbsentError extends PalisadeError {}

export function unixGetJson(socketPath: string, path: string, opts: UnixGetOptions = {}): Promise<UnixGetResult> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const subject = `${socketPath}: GET ${path}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = request({
      socketPath,
      path,
      method: 'GET',
      headers: { accept: 'application/json', host: 'localhost' },
    });
    const fail = (err: PalisadeError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new PalisadeError('E_TIMEOUT', `runtime API did not answer in ${timeoutMs} ms`, { subject })),
      timeoutMs,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (SOCKET_ABSENT.has(code))
        fail(new SocketAbsentError('E_NETWORK', `runtime socket not available (${code})`, { subject }));
      else fail(new PalisadeError('E_NETWORK', `runtime API request failed: ${code || err.message}`, { subject }));
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > maxBytes) {
          fail(new PalisadeError('E_TOO_LARGE', `runtime API answer larger than ${maxBytes} bytes`, { subject }));
          return;
        }
        chunks.push(d);
      });
      res.on('error', () => fail(new PalisadeError('E_NETWORK', 'runtime API closed the connection', { subject })));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? undefined : (JSON.parse(text) as unknown);
        } catch {
          reject(
            new PalisadeError('E_CORRUPT', `runtime API answered HTTP ${res.statusCode} with malformed JSON`, {
              subject,
            }),
          );
          return;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.end();
  });
}

type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function asStr(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** `sha256:<64 hex>` out of a digest-bearing reference (`repo@sha256:…`, `docker-pullable://…`). */
export function digestOf(ref: string): string {
  const m = /sha256:[0-9a-f]{64}/.exec(ref);
  return m ? m[0] : '';
}
