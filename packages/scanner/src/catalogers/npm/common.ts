/** npm package helpers: purls with scope namespaces, alias specs, the package constructor. */
import type { Package } from '@palisade/core';
import { makePackage } from '../lang-common/common.js';
import type { CatalogFile } from '../types.js';

export const NPM_CATALOGER_ID = 'npm';

export interface NpmPackageInput {
  name: string;
  version: string;
  file: CatalogFile;
  licenses?: readonly string[];
  metadata?: Record<string, string | undefined>;
}

/** `@scope/name` → namespace "@scope" (percent-encoded to %40 by buildPurl), name "name". */
export function npmPackage(p: NpmPackageInput): Package {
  const slash = p.name.startsWith('@') ? p.name.indexOf('/') : -1;
  return makePackage({
    type: 'npm',
    name: p.name,
    version: p.version,
    purlNamespace: slash > 0 ? p.name.slice(0, slash) : undefined,
    purlName: slash > 0 ? p.name.slice(slash + 1) : p.name,
    file: p.file,
    foundBy: NPM_CATALOGER_ID,
    licenses: p.licenses,
    metadata: p.metadata,
  });
}

/** A plausible npm package name: optional @scope/, no spaces, no further slashes. */
export function isNpmName(name: string): boolean {
  if (name === '' || name.length > 214 || /[\s]/.test(name)) return false;
  if (name.startsWith('@')) {
    const i = name.indexOf('/');
    return i > 1 && i < name.length - 1 && name.indexOf('/', i + 1) < 0;
  }
  return !name.includes('/');
}

/**
 * Split "name@range" (name may be scoped) at the separating '@'.
 * Returns undefined when there is no separator.
 */
export function splitNameAt(spec: string): { name: string; rest: string } | undefined {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  if (at <= 0) return undefined;
  return { name: spec.slice(0, at), rest: spec.slice(at + 1) };
}

// Package versions in lockfile keys (pnpm) must look like semver, or the key is something else
// (a git URL, a tarball path) and the explicit `version` field has to be used instead.
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
export function isSemver(v: string): boolean {
  return SEMVER.test(v);
}
