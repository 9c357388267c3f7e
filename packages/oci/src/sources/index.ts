import { PalisadeError } from '@palisade/core';
import type { ImageSource, SourceOptions } from '../types.js';
import { ArchiveSource } from './archive.js';
import { DirSource } from './dir.js';
import { OciLayoutSource } from './layout.js';
import { RegistrySource } from './registry.js';

/**
 * Turn a user's reference into an image source:
 * - `oci:DIR[:tag]` an OCI image layout directory;
 * - `archive:FILE` a `docker save` / `podman save` archive (docker-archive or oci-archive);
 * - `dir:PATH` a root filesystem directory;
 * - `registry:REF` or a bare `host/repo:tag`, `host/repo@sha256:…` an image in a registry.
 */
export function openImageSource(ref: string, options: SourceOptions = {}): ImageSource {
  if (ref.trim() === '') throw new PalisadeError('E_INPUT', 'empty image reference');
  if (ref.startsWith('oci:')) return new OciLayoutSource(ref, options);
  if (ref.startsWith('archive:') || ref.startsWith('docker-archive:') || ref.startsWith('oci-archive:')) {
    return new ArchiveSource(ref, options);
  }
  if (ref.startsWith('dir:')) return new DirSource(ref, options);
  if (ref.startsWith('registry:')) return new RegistrySource(ref.slice('registry:'.length), options);
  return new RegistrySource(ref, options);
}
