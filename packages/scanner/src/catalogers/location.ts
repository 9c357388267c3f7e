import { stableId, type Package, type PackageLocation } from '@palisade/core';
import type { CatalogFile } from './types.js';

/** The location of a package found in a kept file. */
export function locationOf(file: CatalogFile, path: string = file.path): PackageLocation {
  const loc: PackageLocation = { path, layerDigest: file.layer.digest, layerIndex: file.layer.index };
  if (file.layer.diffId) loc.layerDiffId = file.layer.diffId;
  return loc;
}

/** Stable package id from its identity and first location. */
export function packageId(p: Pick<Package, 'type' | 'name' | 'version' | 'locations'>): string {
  return stableId(p.type, p.name, p.version, p.locations[0]?.path, p.locations[0]?.layerDigest);
}
