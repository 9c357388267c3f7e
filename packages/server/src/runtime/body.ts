/**
 * The ingest route's body: JSON, optionally `Content-Encoding: gzip`. A gzip body is inflated
 * as it arrives and cut off as soon as the inflated size passes the limit, so a small
 * decompression bomb costs at most `maxBytes` of inflating and nothing is kept past it.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { PalisadeError } from '@palisade/core';

/** Fastify's preParsing hook for a route whose body may be gzip, limited to `maxBytes` inflated. */
export function boundedBodyDecoder(
  maxBytes: number,
  limitName: string,
): (req: FastifyRequest, reply: FastifyReply, payload: RequestPayload) => Promise<RequestPayload> {
  return (req, _reply, payload) => {
    const raw = req.headers['content-encoding'];
    const encoding = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return Promise.resolve(payload);
    if (encoding !== 'gzip' && encoding !== 'x-gzip') {
      return Promise.reject(
        new PalisadeError('E_UNSUPPORTED', `'${encoding.slice(0, 40)}' is not supported: send identity or gzip`, {
          subject: 'Content-Encoding',
        }),
      );
    }
    return Promise.resolve(inflate(payload, maxBytes, limitName));
  };
}

/** The inflated stream; `receivedEncodedLength` tells Fastify how many compressed bytes came in. */
function inflate(payload: RequestPayload, maxBytes: number, limitName: string): RequestPayload {
  const gunzip = createGunzip();
  let inflated = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      inflated += chunk.length;
      if (inflated > maxBytes) {
        // Stop inflating at once: the rest of a bomb is never expanded.
        payload.unpipe(gunzip);
        gunzip.destroy();
        cb(
          new PalisadeError(
            'E_TOO_LARGE',
            `larger than ${maxBytes} bytes once decompressed (${limitName}): split the batch`,
            { subject: 'body' },
          ),
        );
        return;
      }
      cb(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  out.receivedEncodedLength = 0;
  payload.on('data', (c: Buffer) => {
    out.receivedEncodedLength += c.length;
  });
  gunzip.on('error', (err) => {
    out.destroy(new PalisadeError('E_INPUT', `not valid gzip (${err.message})`, { subject: 'body', cause: err }));
  });
  payload.on('error', (err) => out.destroy(err));
  payload.pipe(gunzip).pipe(out);
  return out;
}
