/**
 * The ingest route's body: JSON, optionally `Content-Encoding: gzip`. A gzip body is inflated
 * as it arrives and cut off as soon as the inflated size passes the limit, so a small
 * decompression bomb costs at most `maxBytes` of inflating and nothing is kept past it.
 *
 * Another encoding is answered 415 here, before the body is read: it is the sender's
 * configuration that is wrong, not the batch (a publisher dead-letters a batch answered 400).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { PalisadeError } from '@palisade/core';

/** The encodings the ingest route decodes, as a 415 names them. */
export const SUPPORTED_ENCODINGS = ['identity', 'gzip'] as const;

/**
 * Fastify's preParsing hook for a route whose body may be gzip, limited to `maxBytes` inflated.
 * `onDecoded` is told how many bytes were decoded once the body stream ends or fails (a body
 * refused as too large or not JSON has cost its decoding too).
 */
export function boundedBodyDecoder(
  maxBytes: number,
  limitName: string,
  onDecoded?: (req: FastifyRequest, bytes: number) => void,
): (req: FastifyRequest, reply: FastifyReply, payload: RequestPayload) => Promise<RequestPayload> {
  return (req, reply, payload) => {
    const raw = req.headers['content-encoding'];
    const encoding = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().toLowerCase();
    const counter = { bytes: 0, done: (bytes: number): void => onDecoded?.(req, bytes) };
    if (encoding === '' || encoding === 'identity')
      return Promise.resolve(limited(payload, null, maxBytes, limitName, counter));
    if (encoding !== 'gzip' && encoding !== 'x-gzip') {
      // Answered here (the app's error handler maps E_UNSUPPORTED to 400, which means "bad batch").
      void reply.code(415).send({
        error: {
          code: 'E_UNSUPPORTED',
          message: `Content-Encoding: '${encoding.slice(0, 40)}' is not supported: send ${SUPPORTED_ENCODINGS.join(' or ')}`,
        },
      });
      return Promise.resolve(payload);
    }
    return Promise.resolve(limited(payload, createGunzip(), maxBytes, limitName, counter));
  };
}

/**
 * The decoded stream, counted and cut off past `maxBytes`; `receivedEncodedLength` tells Fastify
 * how many bytes came in on the wire (its own bodyLimit applies to those).
 */
function limited(
  payload: RequestPayload,
  gunzip: ReturnType<typeof createGunzip> | null,
  maxBytes: number,
  limitName: string,
  counter: { bytes: number; done(bytes: number): void },
): RequestPayload {
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      counter.bytes += chunk.length;
      if (counter.bytes > maxBytes) {
        // Stop inflating at once: the rest of a bomb is never expanded.
        if (gunzip) {
          payload.unpipe(gunzip);
          gunzip.destroy();
        } else payload.unpipe(out);
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
  out.once('close', () => counter.done(counter.bytes));
  // Fastify listens for errors only once it reads the body: a body it refused up front (its
  // Content-Length over the limit) must not turn our cut-off into an uncaught exception.
  out.on('error', () => undefined);
  payload.on('data', (c: Buffer) => {
    out.receivedEncodedLength += c.length;
  });
  payload.on('error', (err) => out.destroy(err));
  if (!gunzip) {
    payload.pipe(out);
    return out;
  }
  gunzip.on('error', (err) => {
    out.destroy(new PalisadeError('E_INPUT', `not valid gzip (${err.message})`, { subject: 'body', cause: err }));
  });
  payload.pipe(gunzip).pipe(out);
  return out;
}
