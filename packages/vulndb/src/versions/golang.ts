import type { VersionScheme } from './types.js';
import { cachedParser, invalidVersion, isDigits, requireNonEmpty, validatorFor } from './common.js';
import { compareSemverParts, isIdentifier, type SemverParts } from './semver-core.js';

const NAME = 'Go';

/** A numeric semver component without leading zeros, as golang.org/x/mod/semver demands. */
function isCanonicalNumber(s: string): boolean {
  return isDigits(s) && (s.length === 1 || s.charCodeAt(0) !== 48);
}

/**
 * Go module versions (golang.org/x/mod/semver). OSV writes them without the "v", so it is
 * optional. "v1" and "v1.2" are shorthands for v1.0.0 / v1.2.0 (without pre-release or
 * build); "+incompatible" is build metadata and ignored; pseudo-versions
 * (v0.0.0-20210101000000-abcdef123456) are ordinary pre-releases and order as such.
 */
function parse(raw: string): SemverParts {
  requireNonEmpty(NAME, raw);
  let v = raw.startsWith('v') ? raw.slice(1) : raw;
  const plus = v.indexOf('+');
  let hasSuffix = false;
  if (plus >= 0) {
    if (
      !v
        .slice(plus + 1)
        .split('.')
        .every(isIdentifier)
    )
      throw invalidVersion(NAME, raw, 'bad build metadata');
    v = v.slice(0, plus);
    hasSuffix = true;
  }
  const dash = v.indexOf('-');
  let pre: string[] = [];
  if (dash >= 0) {
    pre = v.slice(dash + 1).split('.');
    const ok = pre.every((p) => isIdentifier(p) && (!isDigits(p) || isCanonicalNumber(p)));
    if (!ok) throw invalidVersion(NAME, raw, 'bad pre-release');
    v = v.slice(0, dash);
    hasSuffix = true;
  }
  const core = v.split('.');
  if (core.length > 3 || !core.every(isCanonicalNumber)) {
    throw invalidVersion(NAME, raw, 'expected vMAJOR.MINOR.PATCH without leading zeros');
  }
  if (core.length < 3 && hasSuffix) throw invalidVersion(NAME, raw, 'shorthand version with a suffix');
  return { major: core[0] ?? '0', minor: core[1] ?? '0', patch: core[2] ?? '0', pre };
}

const parseCached = cachedParser(parse);

export const goScheme: VersionScheme = {
  id: 'go',
  version: 1,
  ecosystems: ['Go'],
  compare: (a: string, b: string): number => compareSemverParts(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
