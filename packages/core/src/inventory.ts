/**
 * The package inventory of an artifact: what the catalogers found, where they found it.
 */

/** Package types, spelled as the purl spec spells them (`pkg:<type>/…`). */
export const PACKAGE_TYPES = [
  'deb',
  'apk',
  'rpm',
  'npm',
  'pypi',
  'golang',
  'maven',
  'gem',
  'cargo',
  'nuget',
  'composer',
] as const;
export type PackageType = (typeof PACKAGE_TYPES)[number];

/** OS package types are matched only against distro data; the rest only against their ecosystem. */
export function isOsPackageType(t: PackageType): boolean {
  return t === 'deb' || t === 'apk' || t === 'rpm';
}

/** Where a package was found. `layerDigest` is absent for a root filesystem directory. */
export interface PackageLocation {
  /** Path inside the image filesystem, without a leading slash. */
  path: string;
  /** Digest of the layer blob that brought this file (compressed blob digest for registry images). */
  layerDigest?: string;
  /** The layer's diff id (digest of the uncompressed tar), when known. */
  layerDiffId?: string;
  /** Zero-based index of that layer in the image. */
  layerIndex?: number;
}

export interface SourcePackage {
  name: string;
  version?: string;
}

export interface Package {
  /** Stable id: derived from type, name, version and first location; equal inputs give equal ids. */
  id: string;
  name: string;
  version: string;
  type: PackageType;
  purl: string;
  /** The source package (dpkg Source, apk origin, rpm source rpm) when the package has one. */
  source?: SourcePackage;
  arch?: string;
  licenses?: string[];
  locations: PackageLocation[];
  /** Id of the cataloger that found it. */
  foundBy: string;
  /** Small, cataloger-specific facts (e.g. dpkg status, Go version of a binary, jar main class). */
  metadata?: Record<string, string>;
}

/** The operating system of an image, from os-release and friends. */
export interface OsInfo {
  /** Distro family used for matching: debian, ubuntu, alpine, rhel, fedora, amzn, centos, rocky, almalinux, ol, sles, wolfi, chainguard, distroless, … */
  family: string;
  /** os-release ID. */
  id: string;
  /** os-release VERSION_ID, or the release file's version (e.g. 12, 3.18.4, 9.3). */
  version: string;
  codename?: string;
  prettyName?: string;
  /** Set when the distro is past its end of life according to the DB. */
  eol?: boolean;
}
