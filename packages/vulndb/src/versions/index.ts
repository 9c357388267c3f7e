import { PalisadeError } from '@palisade/core';
import type { VersionScheme } from './types.js';
import { versionSchemes } from './registry.js';

export type { VersionScheme } from './types.js';
export { versionSchemes } from './registry.js';

/** OSV ecosystem name (exact, then lower-cased) -> scheme, built once from the registry. */
function buildIndex(): Map<string, VersionScheme> {
  const index = new Map<string, VersionScheme>();
  const add = (name: string, scheme: VersionScheme): void => {
    const other = index.get(name);
    if (other !== undefined && other !== scheme) {
      throw new Error(`version schemes: ecosystem "${name}" claimed by ${other.id} and ${scheme.id}`);
    }
    index.set(name, scheme);
  };
  for (const scheme of versionSchemes.all()) {
    for (const eco of scheme.ecosystems) add(eco, scheme);
  }
  for (const scheme of versionSchemes.all()) {
    for (const eco of scheme.ecosystems) add(eco.toLowerCase(), scheme);
  }
  return index;
}

const byEcosystem = buildIndex();

/**
 * The version scheme of an OSV ecosystem: "Debian", "Debian:12", "Ubuntu:22.04:LTS",
 * "Alpine:v3.18", "PyPI"; lower-case spellings ("debian", "pypi", "go") are accepted too.
 */
export function schemeFor(ecosystem: string): VersionScheme | undefined {
  const colon = ecosystem.indexOf(':');
  const name = (colon >= 0 ? ecosystem.slice(0, colon) : ecosystem).trim();
  return byEcosystem.get(name) ?? byEcosystem.get(name.toLowerCase());
}

/** Orders two versions of an ecosystem: <0, 0 or >0. Throws E_INPUT for an unknown ecosystem or version. */
export function compareVersions(ecosystem: string, a: string, b: string): number {
  const scheme = schemeFor(ecosystem);
  if (scheme === undefined) {
    throw new PalisadeError('E_INPUT', 'unknown ecosystem (no version scheme)', { subject: ecosystem });
  }
  return scheme.compare(a, b);
}
