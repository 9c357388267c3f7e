import { PalisadeError } from '@palisade/core';

/** Largest number of parsed versions a scheme keeps; the cache is dropped whole when full. */
export const PARSE_CACHE_LIMIT = 100_000;

/**
 * Memoises a parser. Matching compares the same few thousand version strings millions of
 * times, so each string is parsed once; clearing (rather than evicting one by one) keeps the
 * hot path to a single Map lookup and bounds memory on adversarial input.
 * Failures are not cached: they are rare and rethrowing a fresh error keeps stacks honest.
 */
export function cachedParser<T>(parse: (v: string) => T, limit = PARSE_CACHE_LIMIT): (v: string) => T {
  const cache = new Map<string, T>();
  return (v: string): T => {
    const hit = cache.get(v);
    if (hit !== undefined) return hit;
    const parsed = parse(v);
    if (cache.size >= limit) cache.clear();
    cache.set(v, parsed);
    return parsed;
  };
}

/** The error every scheme throws for a version it cannot parse: short, naming the scheme. */
export function invalidVersion(scheme: string, version: string, reason: string): PalisadeError {
  return new PalisadeError('E_INPUT', `invalid ${scheme} version: ${reason}`, { subject: version });
}

/** Rejects what no scheme accepts: non-strings and blank strings. */
export function requireNonEmpty(scheme: string, version: string): void {
  if (typeof version !== 'string') throw invalidVersion(scheme, String(version), 'not a string');
  if (version.trim() === '') throw invalidVersion(scheme, version, 'empty version');
}

export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAlphaCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

export function isAlnumCode(c: number): boolean {
  return isDigitCode(c) || isAlphaCode(c);
}

/** True when `s` is one or more ASCII digits. */
export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigitCode(s.charCodeAt(i))) return false;
  return true;
}

/** Removes leading zeros, keeping "0" for an all-zero string. */
export function stripZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++;
  return i === 0 ? digits : digits.slice(i);
}

/**
 * Compares two strings of ASCII digits as unbounded integers without BigInt: after leading
 * zeros the longer is larger, equal lengths compare lexically.
 */
export function compareDigits(a: string, b: string): number {
  const x = stripZeros(a);
  const y = stripZeros(b);
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Ordinal (UTF-16 code unit) comparison, as strcmp/Java/Go do for ASCII. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** isValid for a scheme: the version parses (through the cache, so a later compare is free). */
export function validatorFor<T>(parse: (v: string) => T): (v: string) => boolean {
  return (v: string): boolean => {
    try {
      parse(v);
      return true;
    } catch {
      return false;
    }
  };
}
