import type { ImageSource, ResolvedImage, SourceOptions } from '../types.js';

// Placeholder so the package builds while this source is written; replaced by the real one.
export class RegistrySource implements ImageSource {
  readonly kind = 'registry' as const;
  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}
  async resolve(): Promise<ResolvedImage> {
    void this.options;
    throw new Error('RegistrySource: not implemented yet');
  }
  async close(): Promise<void> {}
}
