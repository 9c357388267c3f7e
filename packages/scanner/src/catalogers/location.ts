import { stableId, type Package, type PackageLocation } from '@palisade/core';
import type { CatalogFile } from './types.js';

/**
 * The location of a package found in a kept file. Only real image layers (content digests) are
 * named; a root filesystem directory has no layers, so its packages carry the path alone.
 */
export function locationOf(file: CatalogFile, path: string = file.path): PackageLocation {
  if (!/^sha(256|512):/.test(file.layer.digest)) return { path };
  const loc: PackageLocation = { path, layerDigest: file.layer.digest, layerIndex: file.layer.index };
  if (file.layer.diffId) loc.layerDiffId = file.layer.diffId;
  return loc;
}

/** Stable package id from its identity and first location. */
export function packageId(p: Pick<Package, 'type' | 'name' | 'version' | 'locations'>): string {
  return stableId(p.type, p.name, p.version, p.locations[0]?.path, p.locations[0]?.layerDigest);
}
