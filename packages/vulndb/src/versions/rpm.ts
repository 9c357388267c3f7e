import type { VersionScheme } from './types.js';
import { cachedParser, isAlphaCode, isDigitCode, isDigits, requireNonEmpty, validatorFor } from './common.js';

/** An RPM EVR: [epoch:]version[-release]. */
interface RpmVersion {
  readonly epoch: string;
  readonly version: string;
  /** undefined when the string has no '-' at all (not the same as an empty release). */
  readonly release: string | undefined;
}

const NAME = 'rpm';

function parse(v: string): RpmVersion {
  requireNonEmpty(NAME, v);
  // As rpm: an epoch is the leading digits when a ':' follows them; an empty one is 0.
  const colon = v.indexOf(':');
  let epoch = '0';
  let rest = v;
  if (colon >= 0 && (colon === 0 || isDigits(v.slice(0, colon)))) {
    if (colon > 0) epoch = v.slice(0, colon);
    rest = v.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

function isSeparator(c: number): boolean {
  return !isAlphaCode(c) && !isDigitCode(c) && c !== 126 && c !== 94;
}

function runEnd(s: string, from: number, digits: boolean): number {
  let i = from;
  while (i < s.length && (digits ? isDigitCode(s.charCodeAt(i)) : isAlphaCode(s.charCodeAt(i)))) i++;
  return i;
}

/** Compares one digit segment and one alpha segment pair; 0 lets the caller continue. */
function compareSegment(a: string, ai: number, ae: number, b: string, bi: number, be: number, digits: boolean): number {
  let x = ai;
  let y = bi;
  if (digits) {
    while (x < ae && a.charCodeAt(x) === 48) x++;
    while (y < be && b.charCodeAt(y) === 48) y++;
    if (ae - x !== be - y) return ae - x < be - y ? -1 : 1;
  }
  const sa = a.slice(x, ae);
  const sb = b.slice(y, be);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * rpmvercmp: alternating alpha and digit segments, separators skipped, '~' sorts before
 * anything (even the end), '^' after the end but before anything else.
 */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isSeparator(a.charCodeAt(i))) i++;
    while (j < b.length && isSeparator(b.charCodeAt(j))) j++;
    const ca = i < a.length ? a.charCodeAt(i) : -1;
    const cb = j < b.length ? b.charCodeAt(j) : -1;
    if (ca === 126 || cb === 126) {
      if (ca !== 126) return 1;
      if (cb !== 126) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === 94 || cb === 94) {
      if (ca === -1) return -1;
      if (cb === -1) return 1;
      if (ca !== 94) return 1;
      if (cb !== 94) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === -1 || cb === -1) break;
    const digits = isDigitCode(ca);
    const ae = runEnd(a, i, digits);
    const be = runEnd(b, j, digits);
    // Segments of different kinds: numeric is newer than alpha.
    if (be === j) return digits ? 1 : -1;
    const d = compareSegment(a, i, ae, b, j, be, digits);
    if (d !== 0) return d;
    i = ae;
    j = be;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

function compareParsed(a: RpmVersion, b: RpmVersion): number {
  const e = rpmvercmp(a.epoch, b.epoch);
  if (e !== 0) return e;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  // rpm skips the release when either side lacks one; like OSV we instead rank a
  // missing release below any release, so "1.0" < "1.0-1" and ranges stay total orders.
  if (a.release === undefined || b.release === undefined) {
    if (a.release === b.release) return 0;
    return a.release === undefined ? -1 : 1;
  }
  return rpmvercmp(a.release, b.release);
}

const parseCached = cachedParser(parse);

export const rpmScheme: VersionScheme = {
  id: 'rpm',
  version: 1,
  ecosystems: [
    'Red Hat',
    'AlmaLinux',
    'Rocky Linux',
    'CentOS',
    'Fedora',
    'Amazon Linux',
    'Oracle Linux',
    'openSUSE',
    'SUSE',
    'Mageia',
    'Photon OS',
    'Azure Linux',
  ],
  compare: (a: string, b: string): number => compareParsed(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
