/**
 * Helpers shared by the OS package catalogers (dpkg, apk, rpm): the distro qualifier of their
 * purls, the layer that introduced a package, unique ids and the output order.
 */
import { stableId, type OsInfo, type Package } from '@palisade/core';
import type { CatalogFile } from '../catalogers/types.js';

/** purl `distro` qualifier, e.g. "debian-12", "alpine-3.18.4"; undefined when the OS is unknown. */
export function distroQualifier(os: OsInfo | undefined): string | undefined {
  if (!os || !os.id) return undefined;
  return os.version ? `${os.id}-${os.version}` : os.id;
}

/**
 * For a package database rewritten by several layers (each `apt-get install` rewrites the whole
 * dpkg status file), find the layer a package really came from: the earliest version of the file,
 * in `history` (oldest first), from which the package stayed present up to the top one.
 * `keysOf` lists the packages of one version of the file; it is only called on older versions,
 * lazily, and an unreadable version (undefined) ends the run.
 */
export function introducingFiles(
  history: readonly CatalogFile[],
  keysOf: (file: CatalogFile) => ReadonlySet<string> | undefined,
): (key: string) => CatalogFile | undefined {
  const cache = new Map<number, ReadonlySet<string> | undefined>();
  const keysAt = (i: number): ReadonlySet<string> | undefined => {
    if (!cache.has(i)) {
      const file = history[i];
      cache.set(i, file ? keysOf(file) : undefined);
    }
    return cache.get(i);
  };
  return (key: string): CatalogFile | undefined => {
    let i = history.length - 1;
    while (i > 0 && keysAt(i - 1)?.has(key)) i--;
    return history[i];
  };
}

/** Identity of a package inside one database version (for `introducingFiles`). */
export function packageKey(name: string, version: string, arch: string | undefined): string {
  return `${name}\u0000${version}\u0000${arch ?? ''}`;
}

function compare(a: string | undefined, b: string | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Deterministic order: name, version, path, then arch (multi-arch/multilib twins). */
export function sortPackages(pkgs: Package[]): Package[] {
  return pkgs.sort(
    (a, b) =>
      compare(a.name, b.name) ||
      compare(a.version, b.version) ||
      compare(a.locations[0]?.path, b.locations[0]?.path) ||
      compare(a.arch, b.arch),
  );
}

/**
 * Package ids come from type, name, version and location. Multi-arch twins (libc6 amd64 + i386,
 * glibc x86_64 + i686) share all four, so the later twins get the arch mixed in to stay unique.
 */
export function uniqueIds(pkgs: Package[]): Package[] {
  const seen = new Set<string>();
  for (const p of pkgs) {
    if (seen.has(p.id)) p.id = stableId(p.id, p.arch, p.purl);
    seen.add(p.id);
  }
  return pkgs;
}
