import type { ImageSource, ResolvedImage, SourceOptions } from '../types.js';

// Placeholder so the package builds while this source is written; replaced by the real one.
export class ArchiveSource implements ImageSource {
  readonly kind = 'archive' as const;
  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}
  async resolve(): Promise<ResolvedImage> {
    void this.options;
    throw new Error('ArchiveSource: not implemented yet');
  }
  async close(): Promise<void> {}
}
