import type { ImageSource, ResolvedImage, SourceOptions } from '../types.js';

// Placeholder so the package builds while this source is written; replaced by the real one.
export class DirSource implements ImageSource {
  readonly kind = 'dir' as const;
  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}
  async resolve(): Promise<ResolvedImage> {
    void this.options;
    throw new Error('DirSource: not implemented yet');
  }
  async close(): Promise<void> {}
}
