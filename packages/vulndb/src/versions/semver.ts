import type { VersionScheme } from './types.js';
import { cachedParser, invalidVersion, isDigits, requireNonEmpty, validatorFor } from './common.js';
import { compareSemverParts, isIdentifier, type SemverParts } from './semver-core.js';

const NAME = 'semver';

/**
 * Semver 2.0 as npm, crates.io, Hex, Pub and SwiftPM use it, read leniently the way feeds
 * spell versions: an optional "v"/"=" prefix, missing minor/patch read as 0 ("1.2" = "1.2.0"),
 * numeric components past the third ignored like build metadata ("1.2.3.4"), leading zeros
 * allowed. Anything else (letters in the core, empty identifiers, stray characters) is rejected.
 */
function parse(raw: string): SemverParts {
  requireNonEmpty(NAME, raw);
  let v = raw.trim();
  if (v.startsWith('v') || v.startsWith('V') || v.startsWith('=')) v = v.slice(1);
  const plus = v.indexOf('+');
  if (plus >= 0) {
    const build = v.slice(plus + 1).split('.');
    if (!build.every(isIdentifier)) throw invalidVersion(NAME, raw, 'bad build metadata');
    v = v.slice(0, plus);
  }
  const dash = v.indexOf('-');
  let pre: string[] = [];
  if (dash >= 0) {
    pre = v.slice(dash + 1).split('.');
    if (!pre.every(isIdentifier)) throw invalidVersion(NAME, raw, 'bad pre-release');
    v = v.slice(0, dash);
  }
  const core = v.split('.');
  if (!core.every(isDigits)) throw invalidVersion(NAME, raw, 'expected MAJOR.MINOR.PATCH numbers');
  return { major: core[0] ?? '0', minor: core[1] ?? '0', patch: core[2] ?? '0', pre };
}

const parseCached = cachedParser(parse);

export const semverScheme: VersionScheme = {
  id: 'semver',
  version: 1,
  ecosystems: ['npm', 'crates.io', 'Hex', 'Pub', 'SwiftURL'],
  compare: (a: string, b: string): number => compareSemverParts(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
