import type { Readable } from 'node:stream';
import type { EntryVisitor } from '../types.js';

export interface TarWalkOptions {
  /** Names the layer in errors, e.g. "layer sha256:ab12… of nginx:1.25". */
  subject: string;
  /** When set, the raw (possibly compressed) bytes must hash to this digest, or the walk rejects with E_DIGEST. */
  expectedDigest?: string;
  signal?: AbortSignal;
  /** Content larger than this is not delivered even when asked for (default 512 MiB). */
  maxContentSize?: number;
}

/**
 * Stream a layer (gzip, zstd or plain tar, detected from magic bytes) once: verify its digest,
 * parse tar headers (ustar, GNU long names, PAX), normalize and check paths, map whiteouts, and
 * call the visitor. Rejects with a PalisadeError naming `subject` on any corruption.
 */
export async function walkTarStream(
  input: Readable | AsyncIterable<Buffer>,
  visitor: EntryVisitor,
  options: TarWalkOptions,
): Promise<void> {
  void input;
  void visitor;
  void options;
  throw new Error('walkTarStream: not implemented yet');
}
