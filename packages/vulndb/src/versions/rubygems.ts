import type { VersionScheme } from './types.js';
import {
  cachedParser,
  compareDigits,
  compareStrings,
  invalidVersion,
  isDigitCode,
  requireNonEmpty,
  validatorFor,
} from './common.js';

const NAME = 'RubyGems';

// Gem::Version::ANCHORED_VERSION_PATTERN, loosened to also take a word glued to a number
// ("1beta", "2.0rc1"): Ruby rejects those, but OSV data holds them and the order is clear.
const GEM_VERSION = /^\s*[0-9]+[0-9a-zA-Z]*(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\s*$/;

/**
 * Gem::Version's canonical segments: "-" reads as ".pre.", the string is cut into runs of
 * digits and of letters, and trailing zeros are dropped from the numeric head and from the
 * part after the first letter run separately ("1.0.a.0" = "1.a").
 */
function parse(raw: string): readonly string[] {
  requireNonEmpty(NAME, raw);
  if (!GEM_VERSION.test(raw)) throw invalidVersion(NAME, raw, 'expected digits and dots, e.g. 1.2.3.pre1');
  const v = raw.trim().replaceAll('-', '.pre.');
  const segments: string[] = [];
  let i = 0;
  while (i < v.length) {
    const digit = isDigitCode(v.charCodeAt(i));
    if (!digit && v.charCodeAt(i) === 46) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < v.length && v.charCodeAt(j) !== 46 && isDigitCode(v.charCodeAt(j)) === digit) j++;
    segments.push(v.slice(i, j));
    i = j;
  }
  const firstWord = segments.findIndex((s) => !isDigitCode(s.charCodeAt(0)));
  const head = firstWord < 0 ? segments : segments.slice(0, firstWord);
  const tail = firstWord < 0 ? [] : segments.slice(firstWord);
  return [...dropTrailingZeros(head), ...dropTrailingZeros(tail)];
}

function dropTrailingZeros(list: string[]): string[] {
  let end = list.length;
  while (end > 0 && /^0+$/.test(list[end - 1] ?? '')) end--;
  return list.slice(0, end);
}

function compareParsed(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? '0';
    const y = b[i] ?? '0';
    const xn = isDigitCode(x.charCodeAt(0));
    const yn = isDigitCode(y.charCodeAt(0));
    // Letters make a pre-release: a word sorts below any number.
    const d = xn && yn ? compareDigits(x, y) : xn !== yn ? (xn ? 1 : -1) : compareStrings(x, y);
    if (d !== 0) return d;
  }
  return 0;
}

const parseCached = cachedParser(parse);

export const rubygemsScheme: VersionScheme = {
  id: 'rubygems',
  version: 1,
  ecosystems: ['RubyGems'],
  compare: (a: string, b: string): number => compareParsed(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
