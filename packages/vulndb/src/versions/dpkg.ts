import type { VersionScheme } from './types.js';
import {
  cachedParser,
  compareDigits,
  invalidVersion,
  isAlphaCode,
  isDigitCode,
  requireNonEmpty,
  validatorFor,
} from './common.js';

/** A Debian version split as dpkg does: [epoch:]upstream[-revision]. */
interface DpkgVersion {
  readonly epoch: string;
  readonly upstream: string;
  readonly revision: string;
}

const NAME = 'dpkg';

function parse(raw: string): DpkgVersion {
  requireNonEmpty(NAME, raw);
  // dpkg ignores surrounding blanks but refuses embedded ones.
  const v = raw.trim();
  if (/\s/.test(v)) throw invalidVersion(NAME, raw, 'embedded whitespace');
  let rest = v;
  let epoch = '0';
  const colon = v.indexOf(':');
  if (colon >= 0) {
    epoch = v.slice(0, colon);
    if (epoch === '') throw invalidVersion(NAME, raw, 'epoch is empty');
    if (!/^[0-9]+$/.test(epoch)) throw invalidVersion(NAME, raw, 'epoch is not a number');
    // dpkg stores the epoch in an int.
    if (compareDigits(epoch, '2147483647') > 0) throw invalidVersion(NAME, raw, 'epoch is too big');
    rest = v.slice(colon + 1);
    if (rest === '') throw invalidVersion(NAME, raw, 'nothing after the epoch colon');
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream === '') throw invalidVersion(NAME, raw, 'upstream version is empty');
  if (dash >= 0 && revision === '') throw invalidVersion(NAME, raw, 'revision is empty');
  return { epoch, upstream, revision };
}

/** dpkg's weight of a non-digit character: '~' before the end, letters before other marks. */
function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (isDigitCode(c)) return 0;
  if (isAlphaCode(c)) return c;
  if (c === 126) return -1; // '~'
  return c + 256;
}

/** dpkg's verrevcmp: alternate non-digit runs (by `order`) and digit runs (numerically). */
export function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigitCode(a.charCodeAt(i))) || (j < b.length && !isDigitCode(b.charCodeAt(j)))) {
      const ac = order(a, i);
      const bc = order(b, j);
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    while (i < a.length && a.charCodeAt(i) === 48) i++;
    while (j < b.length && b.charCodeAt(j) === 48) j++;
    let firstDiff = 0;
    while (i < a.length && j < b.length && isDigitCode(a.charCodeAt(i)) && isDigitCode(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigitCode(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigitCode(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

const parseCached = cachedParser(parse);

function compare(a: string, b: string): number {
  const x = parseCached(a);
  const y = parseCached(b);
  return compareDigits(x.epoch, y.epoch) || verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
}

export const dpkgScheme: VersionScheme = {
  id: 'dpkg',
  version: 1,
  ecosystems: ['Debian', 'Ubuntu'],
  compare,
  isValid: validatorFor(parseCached),
};
