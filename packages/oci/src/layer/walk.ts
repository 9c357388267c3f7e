import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PalisadeError, withSubject } from '@palisade/core';
import type { EntryVisitor } from '../types.js';
import { detectCompression, gunzipStream, gzipError, MAGIC_BYTES, zstdChunks } from './decompress.js';
import { DigestVerifier } from './digest.js';
import { TarParser } from './tar-parser.js';

export interface TarWalkOptions {
  /** Names the layer in errors, e.g. "layer sha256:ab12… of nginx:1.25". */
  subject: string;
  /** When set, the raw (possibly compressed) bytes must hash to this digest, or the walk rejects with E_DIGEST. */
  expectedDigest?: string;
  signal?: AbortSignal;
  /** Content larger than this is not delivered even when asked for (default 512 MiB). */
  maxContentSize?: number;
}

export const DEFAULT_MAX_CONTENT_SIZE = 512 * 1024 * 1024;

/** Progress of the raw input, shared by the stages of one walk. */
interface RawState {
  /** The input was read to its end (so the whole of it was hashed). */
  ended: boolean;
}

function isReadable(input: unknown): input is Readable {
  return typeof (input as Readable | null)?.destroy === 'function' && typeof (input as Readable).pipe === 'function';
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new PalisadeError('E_INTERNAL', `layer input yielded a ${typeof chunk}, not bytes`);
}

/** A failure of the input itself (file gone, connection reset) named after the layer. */
function inputError(err: unknown, subject: string): PalisadeError {
  if (err instanceof PalisadeError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT')
    return withSubject(new PalisadeError('E_NOT_FOUND', 'layer file not found', { cause: err }), subject);
  const message = err instanceof Error ? err.message : String(err);
  return new PalisadeError('E_INPUT', `cannot read the layer: ${message}`, { subject, cause: err });
}

/** The raw chunks, each hashed on the way through; the input is released however this ends. */
async function* rawChunks(
  iterator: AsyncIterator<unknown>,
  head: Buffer[],
  raw: RawState,
  verifier: DigestVerifier | undefined,
  subject: string,
): AsyncGenerator<Buffer> {
  try {
    for (const chunk of head) yield chunk;
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (err) {
        throw inputError(err, subject);
      }
      if (next.done === true) break;
      const chunk = toBuffer(next.value);
      verifier?.update(chunk);
      yield chunk;
    }
    raw.ended = true;
  } finally {
    if (!raw.ended) await iterator.return?.();
  }
}

/** Read chunks until the compression can be told; they are hashed here and replayed later. */
async function readHead(
  iterator: AsyncIterator<unknown>,
  raw: RawState,
  verifier: DigestVerifier | undefined,
  subject: string,
): Promise<Buffer[]> {
  const head: Buffer[] = [];
  let length = 0;
  while (length < MAGIC_BYTES) {
    let next: IteratorResult<unknown>;
    try {
      next = await iterator.next();
    } catch (err) {
      throw inputError(err, subject);
    }
    if (next.done === true) {
      raw.ended = true;
      break;
    }
    const chunk = toBuffer(next.value);
    verifier?.update(chunk);
    head.push(chunk);
    length += chunk.length;
  }
  return head;
}

function abortError(signal: AbortSignal, subject: string): PalisadeError {
  const reason: unknown = signal.reason;
  if (reason instanceof PalisadeError) return reason;
  return new PalisadeError('E_TIMEOUT', 'reading the layer was aborted', { subject, cause: reason });
}

/** Feed the parser from the raw chunks through the right decompressor. */
async function decompressInto(
  chunks: AsyncGenerator<Buffer>,
  compression: ReturnType<typeof detectCompression>,
  parser: TarParser,
  options: TarWalkOptions,
): Promise<void> {
  const signal = options.signal;
  if (compression === 'gzip') {
    // A stream pipeline so zlib runs on the thread pool while the parser works on earlier output.
    await pipeline(
      chunks,
      gunzipStream(),
      async (out: AsyncIterable<Buffer>): Promise<void> => {
        for await (const chunk of out) parser.push(chunk);
      },
      signal ? { signal } : {},
    );
    return;
  }
  const source = compression === 'zstd' ? zstdChunks(chunks, options.subject) : chunks;
  for await (const chunk of source) {
    if (signal?.aborted === true) throw abortError(signal, options.subject);
    parser.push(chunk);
  }
}

/**
 * Stream a layer (gzip, zstd or plain tar, detected from magic bytes) once: verify its digest,
 * parse tar headers (ustar, GNU long names, PAX), normalize and check paths, map whiteouts, and
 * call the visitor. Rejects with a PalisadeError naming `subject` on any corruption.
 *
 * The input is read to its very end (past the end-of-archive blocks and any trailing padding)
 * so that the digest covers every byte. Content handed to `onContent` belongs to the visitor.
 * Hardlinks carry no content in a tar, so none is delivered for them.
 */
export async function walkTarStream(
  input: Readable | AsyncIterable<Buffer>,
  visitor: EntryVisitor,
  options: TarWalkOptions,
): Promise<void> {
  const { subject, signal } = options;
  const verifier = DigestVerifier.create(options.expectedDigest, subject);
  const parser = new TarParser(visitor, {
    subject,
    maxContentSize: options.maxContentSize ?? DEFAULT_MAX_CONTENT_SIZE,
  });
  const raw: RawState = { ended: false };
  // Destroying a Readable input makes a pending read reject, so an abort is noticed at once.
  const release = (): void => {
    if (isReadable(input) && !input.destroyed) input.destroy();
  };
  signal?.addEventListener('abort', release, { once: true });
  try {
    if (signal?.aborted === true) throw abortError(signal, subject);
    const iterator = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    const head = await readHead(iterator, raw, verifier, subject);
    const compression = detectCompression(Buffer.concat(head), subject);
    await decompressInto(rawChunks(iterator, head, raw, verifier, subject), compression, parser, options);
    parser.end();
  } catch (err) {
    release();
    throw explain(err, raw, verifier, options);
  } finally {
    signal?.removeEventListener('abort', release);
  }
  const mismatch = verifier?.mismatch();
  if (mismatch !== undefined) throw mismatch;
}

/** The one error to report for a failed walk. */
function explain(
  err: unknown,
  raw: RawState,
  verifier: DigestVerifier | undefined,
  options: TarWalkOptions,
): PalisadeError {
  const { subject, signal } = options;
  if (signal?.aborted === true) return abortError(signal, subject);
  const known = err instanceof PalisadeError ? err : gzipError(err, subject);
  // Corrupt data that was read to its end and also fails its digest is the wrong blob: say that.
  if (raw.ended && verifier !== undefined && (known === undefined || known.code === 'E_CORRUPT')) {
    const mismatch = verifier.mismatch();
    if (mismatch !== undefined) return mismatch;
  }
  return known ?? withSubject(err, subject, 'E_INTERNAL');
}
