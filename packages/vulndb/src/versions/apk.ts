import type { VersionScheme } from './types.js';
import { cachedParser, compareDigits, compareStrings, isDigitCode, requireNonEmpty, validatorFor } from './common.js';

/**
 * Alpine apk versions: number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}.
 * apk-tools itself orders malformed versions too, so nothing non-empty is rejected: text that
 * does not fit the grammar is kept as a "remainder", which sorts below the same version
 * without it; two malformed versions fall back to a plain string comparison.
 */
interface ApkVersion {
  readonly original: string;
  readonly numbers: readonly string[];
  readonly letter: string;
  /** Pairs of (suffix weight, suffix number digits). */
  readonly suffixes: readonly (readonly [number, string])[];
  readonly build: string;
  readonly remainder: string;
  readonly invalid: boolean;
}

const NAME = 'apk';

/** Suffix order: _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p. */
const SUFFIX_WEIGHT: ReadonlyMap<string, number> = new Map([
  ['alpha', 0],
  ['beta', 1],
  ['pre', 2],
  ['rc', 3],
  ['cvs', 5],
  ['svn', 6],
  ['git', 7],
  ['hg', 8],
  ['p', 9],
]);
const NO_SUFFIX = 4;

function scanDigits(s: string, from: number): number {
  let i = from;
  while (i < s.length && isDigitCode(s.charCodeAt(i))) i++;
  return i;
}

function scanLower(s: string, from: number): number {
  let i = from;
  while (i < s.length && s.charCodeAt(i) >= 97 && s.charCodeAt(i) <= 122) i++;
  return i;
}

/** Dotted numbers at the start; a dangling dot still counts as an (empty) number. */
function parseNumbers(s: string, out: string[]): number {
  let i = 0;
  while (i < s.length && isDigitCode(s.charCodeAt(i))) {
    const end = scanDigits(s, i);
    out.push(s.slice(i, end));
    i = end;
    if (s.charCodeAt(i) !== 46) break;
    i++;
    if (!isDigitCode(s.charCodeAt(i))) out.push('');
  }
  return i;
}

function parseSuffixes(s: string, from: number, out: [number, string][]): number {
  let i = from;
  while (s.charCodeAt(i) === 95) {
    const end = scanLower(s, i + 1);
    const weight = SUFFIX_WEIGHT.get(s.slice(i + 1, end));
    if (weight === undefined) break;
    const numEnd = scanDigits(s, end);
    out.push([weight, numEnd > end ? s.slice(end, numEnd) : '0']);
    i = numEnd;
  }
  return i;
}

function parseHash(s: string, from: number): number {
  if (s.charCodeAt(from) !== 126) return from;
  let i = from + 1;
  while (i < s.length && /[0-9a-f]/.test(s.charAt(i))) i++;
  return i > from + 1 ? i : from;
}

function parse(v: string): ApkVersion {
  requireNonEmpty(NAME, v);
  const numbers: string[] = [];
  let i = parseNumbers(v, numbers);
  let letter = '';
  const c = v.charCodeAt(i);
  if (c >= 97 && c <= 122) {
    letter = v.charAt(i);
    i++;
  }
  const suffixes: [number, string][] = [];
  i = parseSuffixes(v, i, suffixes);
  i = parseHash(v, i);
  let build = '0';
  let invalid = false;
  if (i < v.length) {
    if (v.charCodeAt(i) === 45 && v.charCodeAt(i + 1) === 114) {
      const end = scanDigits(v, i + 2);
      if (end > i + 2) build = v.slice(i + 2, end);
      i = end;
    } else {
      invalid = true;
    }
  }
  return { original: v, numbers, letter, suffixes, build, remainder: v.slice(i), invalid };
}

/** After the first number, a leading zero makes apk compare digits as a decimal fraction. */
function compareNumber(a: string | undefined, b: string | undefined, index: number): number {
  const x = a ?? '0';
  const y = b ?? '0';
  if (index > 0 && a !== undefined && b !== undefined && (x.startsWith('0') || y.startsWith('0'))) {
    return compareStrings(x, y);
  }
  return compareDigits(x === '' ? '0' : x, y === '' ? '0' : y);
}

function compareParsed(a: ApkVersion, b: ApkVersion): number {
  if (a.invalid && b.invalid) return compareStrings(a.original, b.original);
  const n = Math.max(a.numbers.length, b.numbers.length);
  for (let k = 0; k < n; k++) {
    const d = compareNumber(a.numbers[k], b.numbers[k], k);
    if (d !== 0) return d;
  }
  if (a.letter !== b.letter) {
    if (a.letter === '') return -1;
    if (b.letter === '') return 1;
    return compareStrings(a.letter, b.letter);
  }
  const s = Math.max(a.suffixes.length, b.suffixes.length);
  for (let k = 0; k < s; k++) {
    const [wa, na] = a.suffixes[k] ?? [NO_SUFFIX, '0'];
    const [wb, nb] = b.suffixes[k] ?? [NO_SUFFIX, '0'];
    if (wa !== wb) return wa < wb ? -1 : 1;
    const d = compareDigits(na, nb);
    if (d !== 0) return d;
  }
  // Commit hashes (~abc) carry no order and are ignored.
  const d = compareDigits(a.build, b.build);
  if (d !== 0) return d;
  if (a.remainder === '' && b.remainder !== '') return 1;
  if (a.remainder !== '' && b.remainder === '') return -1;
  return 0;
}

const parseCached = cachedParser(parse);

export const apkScheme: VersionScheme = {
  id: 'apk',
  version: 1,
  ecosystems: ['Alpine', 'Wolfi', 'Chainguard'],
  compare: (a: string, b: string): number => compareParsed(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
