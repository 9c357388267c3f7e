/**
 * Compression of a layer, told from its first bytes, and the decompressors: Node's zlib for gzip
 * (native, runs on the thread pool so it overlaps with tar parsing), fzstd for zstd.
 */
import { createGunzip, type Gunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { PalisadeError } from '@palisade/core';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Bytes needed to tell the formats apart. */
export const MAGIC_BYTES = 6;

/** Compression from the first bytes; formats we recognize but do not read are refused. */
export function detectCompression(head: Buffer, subject: string): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  const refuse = (what: string): never => {
    throw new PalisadeError('E_UNSUPPORTED', `${what}-compressed layers are not supported`, { subject });
  };
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) refuse('bzip2');
  if (head[0] === 0xfd && head.toString('latin1', 1, 6) === '7zXZ\u0000') refuse('xz');
  return 'none';
}

/** A gunzip stream with large output chunks: fewer, bigger hand-offs to the parser. */
export function gunzipStream(): Gunzip {
  return createGunzip({ chunkSize: 256 * 1024 });
}

/** Decompress a zstd stream (one or more frames) chunk by chunk. */
export async function* zstdChunks(source: AsyncIterable<Buffer>, subject: string): AsyncGenerator<Buffer> {
  const ready: Buffer[] = [];
  // fzstd hands out a fresh array per block, so wrapping it without copying is safe.
  const decoder = new Decompress((data) => {
    if (data.length > 0) ready.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      decoder.push(chunk, final);
    } catch (err) {
      throw zstdError(err, subject);
    }
  };
  for await (const chunk of source) {
    push(chunk, false);
    while (ready.length > 0) yield ready.shift() as Buffer;
  }
  push(new Uint8Array(0), true);
  while (ready.length > 0) yield ready.shift() as Buffer;
}

function zstdError(err: unknown, subject: string): PalisadeError {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  // fzstd's code 5 is "unexpected EOF".
  if (code === 5)
    return new PalisadeError('E_CORRUPT', 'truncated: the zstd stream ends early', { subject, cause: err });
  return new PalisadeError('E_CORRUPT', `corrupt zstd data: ${message}`, { subject, cause: err });
}

/** A zlib error as a PalisadeError; undefined when `err` did not come from zlib. */
export function gzipError(err: unknown, subject: string): PalisadeError | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return undefined;
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message)) {
    return new PalisadeError('E_CORRUPT', 'truncated: the gzip stream ends early', { subject, cause: err });
  }
  return new PalisadeError('E_CORRUPT', `corrupt gzip data: ${err.message}`, { subject, cause: err });
}
