import type { VersionScheme } from './types.js';
import {
  cachedParser,
  compareDigits,
  compareStrings,
  invalidVersion,
  isDigits,
  requireNonEmpty,
  validatorFor,
} from './common.js';
import { isIdentifier } from './semver-core.js';

const NAME = 'NuGet';
const INT32_MAX = '2147483647';

interface NugetVersion {
  /** major, minor, patch, revision; missing parts are "0". */
  readonly numbers: readonly string[];
  readonly pre: readonly string[];
}

/**
 * NuGetVersion: 1 to 4 numeric parts (each an Int32), an optional "-" pre-release of
 * dot-separated labels and "+" metadata that never affects order.
 */
function parse(raw: string): NugetVersion {
  requireNonEmpty(NAME, raw);
  let v = raw.trim();
  const plus = v.indexOf('+');
  if (plus >= 0) {
    if (
      !v
        .slice(plus + 1)
        .split('.')
        .every(isIdentifier)
    )
      throw invalidVersion(NAME, raw, 'bad metadata');
    v = v.slice(0, plus);
  }
  const dash = v.indexOf('-');
  let pre: string[] = [];
  if (dash >= 0) {
    pre = v.slice(dash + 1).split('.');
    if (!pre.every(isIdentifier)) throw invalidVersion(NAME, raw, 'bad pre-release label');
    v = v.slice(0, dash);
  }
  const parts = v.split('.');
  if (parts.length > 4) throw invalidVersion(NAME, raw, 'more than 4 numeric parts');
  // NuGet itself caps parts at Int32; larger ones (seen in OSV data) are still ordered numerically.
  if (!parts.every(isDigits)) throw invalidVersion(NAME, raw, 'numeric parts must be digits');
  while (parts.length < 4) parts.push('0');
  return { numbers: parts, pre };
}

/** A label is numeric for NuGet only when int.TryParse accepts it. */
function isNumericLabel(s: string): boolean {
  return isDigits(s) && compareDigits(s, INT32_MAX) <= 0;
}

function compareLabel(a: string, b: string): number {
  const an = isNumericLabel(a);
  const bn = isNumericLabel(b);
  if (an && bn) return compareDigits(a, b);
  if (an !== bn) return an ? -1 : 1;
  // StringComparer.OrdinalIgnoreCase compares upper-cased code units.
  return compareStrings(a.toUpperCase(), b.toUpperCase());
}

function compareParsed(a: NugetVersion, b: NugetVersion): number {
  for (let i = 0; i < 4; i++) {
    const d = compareDigits(a.numbers[i] ?? '0', b.numbers[i] ?? '0');
    if (d !== 0) return d;
  }
  if (a.pre.length === 0 || b.pre.length === 0) {
    return a.pre.length === b.pre.length ? 0 : a.pre.length === 0 ? 1 : -1;
  }
  const n = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < n; i++) {
    const d = compareLabel(a.pre[i] ?? '', b.pre[i] ?? '');
    if (d !== 0) return d;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

const parseCached = cachedParser(parse);

export const nugetScheme: VersionScheme = {
  id: 'nuget',
  version: 1,
  ecosystems: ['NuGet'],
  compare: (a: string, b: string): number => compareParsed(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
