import type { VersionScheme } from './types.js';
import {
  cachedParser,
  compareDigits,
  compareStrings,
  isDigitCode,
  requireNonEmpty,
  stripZeros,
  validatorFor,
} from './common.js';

/**
 * Maven's ComparableVersion as OSV's Maven fixtures define it (maven-artifact 3.8.6, the version
 * osv-detector's GenerateMavenVersions.java generated them with, plus the POM reference's
 * version order spec): a version is a tree of items. '.' separates items, '-' and every
 * digit/letter transition open a nested list; trailing "null" items (0, "", ga/final/release,
 * empty lists) are dropped. Every string is accepted.
 *
 * Two documented behaviours differ from maven-artifact 3.8.7 and 3.9.x (which agree with each
 * other here); {@link MAVEN_ARTIFACT_3_9} switches both back, for the differential test:
 *
 * - MNG-7644 (3.8.7/3.9.0, "Fix version comparison where .X1 < -X2"): since then a qualifier
 *   that follows other items of its list and is followed by a digit or ends the version gets a
 *   list of its own, so "1.0.0.RC1" is [1, [rc, [1]]] rather than [1, 0, 0, rc, [1]]. OSV's
 *   fixtures predate it: "2.9.0-1 < 2.9.0.RC1" (3.9 says >), "6.1.12.rc5 < 6.1.12rc1",
 *   "1.2.31.sec10 < 1.2.31_noneautotype", "1.0.0rc0 < 1.0.beta8", ...
 * - MNG-6420 (open, every release): the POM reference trims "null" values at each hyphen, so
 *   "1-ga-1" = "1-0-1" = "1-1", as OSV's comparators and fixtures do; ComparableVersion drops the
 *   null but keeps the hyphen's nesting, giving [1, [[1]]] < [1, [1]].
 */
type Item =
  | { readonly kind: 'int'; readonly digits: string }
  | { readonly kind: 'str'; readonly key: string; readonly empty: boolean }
  | { readonly kind: 'list'; readonly items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['ga', ''],
  ['final', ''],
  ['release', ''],
  ['cr', 'rc'],
]);
/** The comparable key of "" (a release): qualifiers below it are pre-releases. */
const RELEASE_KEY = String(QUALIFIERS.indexOf(''));
const ZERO: Item = { kind: 'int', digits: '0' };

function stringItem(raw: string, followedByDigit: boolean): Item {
  let value = raw;
  if (followedByDigit && value.length === 1) {
    // "a1", "b2", "m3" are alpha-1, beta-2, milestone-3.
    if (value === 'a') value = 'alpha';
    else if (value === 'b') value = 'beta';
    else if (value === 'm') value = 'milestone';
  }
  value = ALIASES.get(value) ?? value;
  const index = QUALIFIERS.indexOf(value);
  // Unknown qualifiers sort after all known ones, lexically among themselves.
  const key = index >= 0 ? String(index) : `${QUALIFIERS.length}-${value}`;
  return { kind: 'str', key, empty: value === '' };
}

function parseItem(isDigit: boolean, buf: string): Item {
  return isDigit ? { kind: 'int', digits: stripZeros(buf) } : stringItem(buf, false);
}

function isNull(item: Item): boolean {
  if (item.kind === 'int') return item.digits === '0';
  if (item.kind === 'str') return item.empty;
  return item.items.length === 0;
}

/** Drops trailing null items, looking through (but keeping) trailing non-empty lists. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i] as Item;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

/**
 * A list holds at most one sub-list, always its last item, so a list starting with a list holds
 * only that list: take its items instead ("1-ga-1" = "1-0-1" = "1-1" = [1, [1]]).
 */
function unnest(list: Item[]): void {
  let first = list[0];
  while (list.length === 1 && first !== undefined && first.kind === 'list') {
    list.splice(0, 1, ...first.items);
    first = list[0];
  }
}

function parse(raw: string, dialect: MavenDialect): Item {
  requireNonEmpty('Maven', raw);
  const v = raw.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const openList = (): void => {
    const sub: Item[] = [];
    list.push({ kind: 'list', items: sub });
    list = sub;
    stack.push(sub);
  };
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46 || c === 45) {
      list.push(i === start ? ZERO : parseItem(isDigit, v.slice(start, i)));
      start = i + 1;
      if (c === 45) openList();
    } else if (isDigitCode(c)) {
      if (!isDigit && i > start) {
        // MNG-7644 (3.8.7+ only): a qualifier after other items gets a list of its own ("1.0.rc1").
        if (dialect.qualifierAfterItemsNests && list.length > 0) openList();
        list.push(stringItem(v.slice(start, i), true));
        start = i;
        openList();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, v.slice(start, i)));
        start = i;
        openList();
      }
      isDigit = false;
    }
  }
  if (v.length > start) {
    // Likewise for a trailing qualifier: 3.8.7+ read "1.0.RC" as [1, [rc]], 3.8.6 as [1, 0, rc].
    if (dialect.qualifierAfterItemsNests && !isDigit && list.length > 0) openList();
    list.push(parseItem(isDigit, v.slice(start)));
  }
  for (let k = stack.length - 1; k >= 0; k--) {
    const items = stack[k] as Item[];
    normalize(items);
    // A list starts with a list only when the nulls before a hyphen were dropped ("1-ga-1" ->
    // [1, [[1]]]): the spec then trims the hyphen too. Never the root, or "0-1" would be "1".
    if (k > 0 && dialect.nullBeforeHyphenCollapses) unnest(items);
  }
  return { kind: 'list', items: root };
}

/** item.compareTo(null): how an item compares with a missing one (padding). */
function compareWithNull(item: Item): number {
  if (item.kind === 'int') return item.digits === '0' ? 0 : 1;
  if (item.kind === 'str') return compareStrings(item.key, RELEASE_KEY);
  for (const sub of item.items) {
    const d = compareWithNull(sub);
    if (d !== 0) return d;
  }
  return 0;
}

function compareItems(a: Item | undefined, b: Item | undefined): number {
  if (a === undefined) return b === undefined ? 0 : -compareWithNull(b);
  if (b === undefined) return compareWithNull(a);
  if (a.kind === 'int') return b.kind === 'int' ? compareDigits(a.digits, b.digits) : 1;
  if (a.kind === 'str') {
    if (b.kind === 'str') return compareStrings(a.key, b.key);
    return -1;
  }
  if (b.kind === 'int') return -1;
  if (b.kind === 'str') return 1;
  const n = Math.max(a.items.length, b.items.length);
  for (let i = 0; i < n; i++) {
    const d = compareItems(a.items[i], b.items[i]);
    if (d !== 0) return d;
  }
  return 0;
}

/** The switches between Palisade's Maven order and maven-artifact 3.8.7/3.9.x (see the top). */
export interface MavenDialect {
  /** MNG-7644: a qualifier after other items of its list, before a digit or at the end, nests. */
  readonly qualifierAfterItemsNests: boolean;
  /** POM spec, MNG-6420: a sub-list left starting with a list once its nulls are dropped ("1-ga-1") is unnested. */
  readonly nullBeforeHyphenCollapses: boolean;
}

/** Palisade's order: OSV's fixtures (maven-artifact 3.8.6 + the POM reference spec). */
export const MAVEN_OSV: MavenDialect = { qualifierAfterItemsNests: false, nullBeforeHyphenCollapses: true };
/** maven-artifact 3.8.7 and 3.9.x: ComparableVersion after MNG-7644, without the spec's collapse. */
export const MAVEN_ARTIFACT_3_9: MavenDialect = { qualifierAfterItemsNests: true, nullBeforeHyphenCollapses: false };

const parsers = new Map<MavenDialect, (v: string) => Item>();

function parserFor(dialect: MavenDialect): (v: string) => Item {
  let p = parsers.get(dialect);
  if (p === undefined) {
    p = cachedParser((v: string) => parse(v, dialect));
    parsers.set(dialect, p);
  }
  return p;
}

/** Compares two Maven versions in the given dialect (Palisade's scheme uses MAVEN_OSV). */
export function compareMavenAs(dialect: MavenDialect, a: string, b: string): number {
  const p = parserFor(dialect);
  return compareItems(p(a), p(b));
}

const parseCached = parserFor(MAVEN_OSV);

export const mavenScheme: VersionScheme = {
  id: 'maven',
  version: 1,
  ecosystems: ['Maven'],
  compare: (a: string, b: string): number => compareItems(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
