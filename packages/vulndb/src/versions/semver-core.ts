import { compareDigits, compareStrings, isDigits } from './common.js';

/** The parts of a semver version that take part in precedence (build metadata never does). */
export interface SemverParts {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  /** Dot-separated pre-release identifiers; empty for a release. */
  readonly pre: readonly string[];
}

/** Semver 2.0 §11: numeric identifiers numerically, below alphanumeric ones (ASCII order). */
function compareIdentifier(a: string, b: string): number {
  const an = isDigits(a);
  const bn = isDigits(b);
  if (an && bn) return compareDigits(a, b);
  if (an !== bn) return an ? -1 : 1;
  return compareStrings(a, b);
}

export function comparePre(a: readonly string[], b: readonly string[]): number {
  // A release outranks any pre-release of the same core.
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = compareIdentifier(a[i] ?? '', b[i] ?? '');
    if (d !== 0) return d;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function compareSemverParts(a: SemverParts, b: SemverParts): number {
  return (
    compareDigits(a.major, b.major) ||
    compareDigits(a.minor, b.minor) ||
    compareDigits(a.patch, b.patch) ||
    comparePre(a.pre, b.pre)
  );
}

/** True for a non-empty run of [0-9A-Za-z-], the semver identifier alphabet. */
export function isIdentifier(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
    if (!ok) return false;
  }
  return true;
}
