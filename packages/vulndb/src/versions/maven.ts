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
 * Maven's ComparableVersion (maven-artifact 3.8): a version is a tree of items. '.' separates
 * items, '-' and every digit/letter transition open a nested list; trailing "null" items
 * (0, "", ga/final/release, empty lists) are dropped. Every string is accepted.
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

function parse(raw: string): Item {
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
        // 3.8: a qualifier after other items of the list gets a list of its own ("1.0rc1").
        if (list.length > 0) openList();
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
    // Likewise for a trailing qualifier: "1.0.RC" is [1, [rc]].
    if (!isDigit && list.length > 0) openList();
    list.push(parseItem(isDigit, v.slice(start)));
  }
  for (let k = stack.length - 1; k >= 0; k--) normalize(stack[k] as Item[]);
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

const parseCached = cachedParser(parse);

export const mavenScheme: VersionScheme = {
  id: 'maven',
  version: 1,
  ecosystems: ['Maven'],
  compare: (a: string, b: string): number => compareItems(parseCached(a), parseCached(b)),
  isValid: validatorFor(parseCached),
};
