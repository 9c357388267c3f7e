import type { VersionScheme } from './types.js';
import {
  cachedParser,
  compareDigits,
  compareStrings,
  isDigits,
  requireNonEmpty,
  stripZeros,
  validatorFor,
} from './common.js';

/**
 * PEP 440 as the `packaging` library orders it. Numbers stay digit strings (no overflow).
 * Strings that are not PEP 440 are "legacy" versions: PyPI still holds them and OSV ranges
 * name them, so they are ordered as packaging's LegacyVersion did, below every PEP 440 version.
 */
interface Pep440Version {
  readonly legacy: false;
  readonly epoch: string;
  /** Release numbers with trailing zeros removed ("1.0.0" = "1"). */
  readonly release: readonly string[];
  /** [0 a | 1 b | 2 rc, number], undefined when none. */
  readonly pre: readonly [number, string] | undefined;
  readonly post: string | undefined;
  readonly dev: string | undefined;
  readonly local: readonly string[] | undefined;
}

interface LegacyVersion {
  readonly legacy: true;
  readonly parts: readonly string[];
}

type PypiVersion = Pep440Version | LegacyVersion;

const NAME = 'PEP 440';

// The grammar of PEP 440 appendix B (the same one `packaging` uses), anchored, case-insensitive.
const PEP440 = new RegExp(
  '^\\s*v?(?:(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?' +
    '(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?' +
    '(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?)' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\\s*$',
  'i',
);

function preKind(label: string): number {
  const l = label.toLowerCase();
  if (l === 'a' || l === 'alpha') return 0;
  if (l === 'b' || l === 'beta') return 1;
  return 2; // c, rc, pre, preview
}

function parsePep440(v: string): Pep440Version | undefined {
  const m = PEP440.exec(v);
  const g = m?.groups;
  if (!g || g.release === undefined) return undefined;
  const release = g.release.split('.').map(stripZeros);
  while (release.length > 1 && release[release.length - 1] === '0') release.pop();
  const hasPost = g.post !== undefined;
  return {
    legacy: false,
    epoch: g.epoch ?? '0',
    release,
    pre: g.pre_l === undefined ? undefined : [preKind(g.pre_l), g.pre_n ?? '0'],
    post: hasPost ? (g.post_n1 ?? g.post_n2 ?? '0') : undefined,
    dev: g.dev !== undefined ? (g.dev_n ?? '0') : undefined,
    local: g.local === undefined ? undefined : g.local.toLowerCase().split(/[-_.]/),
  };
}

const LEGACY_REPLACE: ReadonlyMap<string, string> = new Map([
  ['pre', 'c'],
  ['preview', 'c'],
  ['-', 'final-'],
  ['rc', 'c'],
  ['dev', '@'],
]);

/** Splits like re.split(r'(\d+|[a-z]+|\.|-)'): runs of digits, of letters, '.', '-', and the rest. */
function legacyTokens(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    let j = i + 1;
    if (c >= 48 && c <= 57) while (j < s.length && isDigits(s.charAt(j))) j++;
    else if (c >= 97 && c <= 122) while (j < s.length && s.charCodeAt(j) >= 97 && s.charCodeAt(j) <= 122) j++;
    else if (c !== 46 && c !== 45) while (j < s.length && !/[0-9a-z.-]/.test(s.charAt(j))) j++;
    out.push(s.slice(i, j));
    i = j;
  }
  return out;
}

/** packaging's _legacy_cmpkey: zero-padded numbers, '*'-prefixed words, "*final" appended. */
function parseLegacy(v: string): LegacyVersion {
  const parts: string[] = [];
  const tokens = legacyTokens(v.toLowerCase()).map((t) => LEGACY_REPLACE.get(t) ?? t);
  tokens.push('*final*');
  for (const t of tokens) {
    if (t === '' || t === '.') continue;
    let part: string;
    if (t === '*final*') part = '*final';
    else part = /^[0-9]/.test(t) ? t.padStart(8, '0') : `*${t}`;
    if (part.startsWith('*')) {
      if (part < '*final') while (parts[parts.length - 1] === '*final-') parts.pop();
      while (parts[parts.length - 1] === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return { legacy: true, parts };
}

function parse(v: string): PypiVersion {
  requireNonEmpty(NAME, v);
  return parsePep440(v) ?? parseLegacy(v);
}

function compareList(a: readonly string[], b: readonly string[], item: (x: string, y: string) => number): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = item(a[i] ?? '', b[i] ?? '');
    if (d !== 0) return d;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Local segments: numbers above words, numbers numerically, words lexically. */
function compareLocalPart(a: string, b: string): number {
  const an = isDigits(a);
  const bn = isDigits(b);
  if (an && bn) return compareDigits(a, b);
  if (an !== bn) return an ? 1 : -1;
  return compareStrings(a, b);
}

/** Rank of the pre-release slot: a dev-only release sorts before its pre-releases, a final after. */
function comparePre(a: Pep440Version, b: Pep440Version): number {
  const rank = (v: Pep440Version): number =>
    v.pre !== undefined ? 1 : v.post === undefined && v.dev !== undefined ? 0 : 2;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (a.pre === undefined || b.pre === undefined) return 0;
  if (a.pre[0] !== b.pre[0]) return a.pre[0] < b.pre[0] ? -1 : 1;
  return compareDigits(a.pre[1], b.pre[1]);
}

/** Optional numbers where absence sorts lowest (post) or highest (dev). */
function compareOptional(a: string | undefined, b: string | undefined, absentHigh: boolean): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    return (a === undefined) === absentHigh ? 1 : -1;
  }
  return compareDigits(a, b);
}

function comparePep440(a: Pep440Version, b: Pep440Version): number {
  return (
    compareDigits(a.epoch, b.epoch) ||
    compareList(a.release, b.release, compareDigits) ||
    comparePre(a, b) ||
    compareOptional(a.post, b.post, false) ||
    compareOptional(a.dev, b.dev, true) ||
    compareLocal(a.local, b.local)
  );
}

function compareLocal(a: readonly string[] | undefined, b: readonly string[] | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return compareList(a, b, compareLocalPart);
}

function compareParsed(a: PypiVersion, b: PypiVersion): number {
  if (a.legacy || b.legacy) {
    if (!a.legacy) return 1;
    if (!b.legacy) return -1;
    return compareList(a.parts, b.parts, compareStrings);
  }
  return comparePep440(a, b);
}

const parseCached = cachedParser(parse);

/** True when `v` is a PEP 440 version (not merely a legacy string). */
export function isPep440(v: string): boolean {
  return typeof v === 'string' && parsePep440(v) !== undefined;
}

export const pep440Scheme: VersionScheme = {
  id: 'pep440',
  version: 1,
  ecosystems: ['PyPI'],
  compare: (a: string, b: string): number => compareParsed(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
