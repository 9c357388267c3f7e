/** A LayerHandle over bytes that can be opened as a stream any number of times (a file, a byte range). */
import type { Readable } from 'node:stream';
import type { EntryVisitor, LayerHandle, WalkOptions } from '../types.js';
import { walkTarStream } from './walk.js';

export interface StreamLayerInit {
  digest: string;
  diffId?: string;
  mediaType: string;
  size?: number;
  index: number;
  /** Names the layer in errors. */
  subject: string;
  /** The digest the raw bytes must have, when one is known. */
  expectedDigest?: string;
  /** Open the raw (possibly compressed) bytes; called once per walk. */
  open: () => Readable;
}

export class StreamLayerHandle implements LayerHandle {
  readonly digest: string;
  readonly diffId?: string;
  readonly mediaType: string;
  readonly size?: number;
  readonly index: number;

  constructor(private readonly init: StreamLayerInit) {
    this.digest = init.digest;
    if (init.diffId !== undefined) this.diffId = init.diffId;
    this.mediaType = init.mediaType;
    if (init.size !== undefined) this.size = init.size;
    this.index = init.index;
  }

  walk(visitor: EntryVisitor, options: WalkOptions = {}): Promise<void> {
    return walkTarStream(this.init.open(), visitor, {
      subject: this.init.subject,
      ...(this.init.expectedDigest !== undefined ? { expectedDigest: this.init.expectedDigest } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.maxContentSize !== undefined ? { maxContentSize: options.maxContentSize } : {}),
    });
  }
}
