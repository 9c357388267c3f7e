import type { ImageSource, ResolvedImage, SourceOptions } from '../types.js';

// Placeholder so the package builds while this source is written; replaced by the real one.
export class OciLayoutSource implements ImageSource {
  readonly kind = 'oci-layout' as const;
  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}
  async resolve(): Promise<ResolvedImage> {
    void this.options;
    throw new Error('OciLayoutSource: not implemented yet');
  }
  async close(): Promise<void> {}
}
