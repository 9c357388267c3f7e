import type { VersionScheme } from './types.js';
import { cachedParser, compareDigits, isAlnumCode, isDigitCode, requireNonEmpty, validatorFor } from './common.js';

const NAME = 'Composer';

/**
 * Packagist versions, ordered as Composer orders them: the "v"/"V" prefix Composer strips,
 * then PHP's version_compare(). PHP canonicalises by turning "-", "_", "+" and other marks
 * into ".", and by splitting digit/letter transitions ("1.0rc1" -> "1.0.rc.1"). Words rank
 * by prefix: dev < alpha = a < beta = b < RC = rc < # (a number) < pl = p; any other word
 * ranks below dev. The one departure from PHP: a literal "#" part is kept and ranks like a
 * number, as the OSV/packagist vectors expect.
 */
function parse(raw: string): readonly string[] {
  requireNonEmpty(NAME, raw);
  const v = raw.startsWith('v') || raw.startsWith('V') ? raw.slice(1) : raw;
  return canonicalize(v).split('.');
}

/** A character PHP keeps in a word; "#" is kept too (see above). */
function isWordCode(c: number): boolean {
  return isAlnumCode(c) || c === 35;
}

/** A non-digit that is not ".": one side of a digit/word transition. */
function isNonDigit(c: number): boolean {
  return !isDigitCode(c) && c !== 46;
}

/** php_canonicalize_version: separators to ".", "." between digit/non-digit transitions. */
function canonicalize(v: string): string {
  if (v.length === 0) return '';
  let out = v.charAt(0);
  let prev = v.charCodeAt(0);
  for (let i = 1; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const lastIsDot = out.charCodeAt(out.length - 1) === 46;
    const transition = (isNonDigit(prev) && isDigitCode(c)) || (isDigitCode(prev) && isNonDigit(c));
    if (c === 45 || c === 95 || c === 43) {
      if (!lastIsDot) out += '.';
    } else if (transition) {
      // PHP keeps the character even when it is a mark: "1.0!" has the word "!".
      if (!lastIsDot) out += '.';
      out += v.charAt(i);
    } else if (!isWordCode(c)) {
      if (!lastIsDot) out += '.';
    } else {
      out += v.charAt(i);
    }
    prev = c;
  }
  return out;
}

const SPECIAL_FORMS: readonly (readonly [string, number])[] = [
  ['dev', 0],
  ['alpha', 1],
  ['a', 1],
  ['beta', 2],
  ['b', 2],
  ['RC', 3],
  ['rc', 3],
  ['#', 4],
  ['pl', 5],
  ['p', 5],
];
const NUMBER_RANK = 4;

/** compare_special_version_forms: the first form the word starts with; unknown words -1. */
function rank(part: string): number {
  if (part.length > 0 && isDigitCode(part.charCodeAt(0))) return NUMBER_RANK;
  for (const [form, order] of SPECIAL_FORMS) if (part.startsWith(form)) return order;
  return -1;
}

function comparePart(a: string, b: string): number {
  const an = a.length > 0 && isDigitCode(a.charCodeAt(0));
  const bn = b.length > 0 && isDigitCode(b.charCodeAt(0));
  if (an && bn) return compareDigits(a, b);
  const d = rank(a) - rank(b);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/** The longer version's extra parts: a number makes it newer, words rank against a number. */
function compareTail(parts: readonly string[], from: number): number {
  for (let i = from; i < parts.length; i++) {
    const p = parts[i] ?? '';
    if (p.length > 0 && isDigitCode(p.charCodeAt(0))) return 1;
    const d = comparePart(p, '#');
    if (d !== 0) return d;
  }
  return 0;
}

function compareParsed(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = comparePart(a[i] ?? '', b[i] ?? '');
    if (d !== 0) return d;
  }
  if (a.length > n) return compareTail(a, n);
  if (b.length > n) return -compareTail(b, n);
  return 0;
}

const parseCached = cachedParser(parse);

export const composerScheme: VersionScheme = {
  id: 'composer',
  version: 1,
  ecosystems: ['Packagist'],
  compare: (a: string, b: string): number => compareParsed(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
