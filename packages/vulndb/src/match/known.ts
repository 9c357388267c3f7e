/**
 * Which installed versions matching may use, and how. A version its ecosystem's scheme cannot
 * parse says nothing about which ranges contain it: Go main modules built from a checkout are
 * "(devel)", some catalogers emit "" or words like "latest". Before this rule such a version
 * matched every range that needs no comparison ("introduced 0" with no fix), and in the lenient
 * schemes it sorted below every real version and so looked vulnerable to everything.
 *
 * Now: "" and "(devel)" are unknown (no findings at all). Any other version that does not parse
 * is matched only where an advisory lists that exact string (OSV `versions`): that is the
 * advisory's own statement, not an inference from an order the version has no place in.
 *
 * "Parses" is the scheme's own parse (the comparator throws) plus, for the schemes that by
 * design order any string (apk, dpkg, rpm, Maven, Composer, and PEP 440 with its legacy
 * versions), the shape of a real version: it starts with a number (Maven: holds one). Those
 * schemes put a word like "latest" below every release.
 */
import { schemeFor } from '../versions/index.js';
import type { Compare } from './ranges.js';

/** Go's marker for a main module built from a working tree; never a version, in any ecosystem. */
const DEVEL = '(devel)';

const EPOCH_THEN_DIGIT = /^(?:\d+:)?\d/;
const DIGIT = /^\d/;
const V_THEN_DIGIT = /^[vV]?\d/;
const ANY_DIGIT = /\d/;

/** The shape check of lenient schemes, by registered scheme id; schemes that reject garbage need none. */
const SHAPE: Readonly<Record<string, (v: string) => boolean>> = {
  apk: (v) => DIGIT.test(v),
  dpkg: (v) => EPOCH_THEN_DIGIT.test(v.trim()),
  rpm: (v) => EPOCH_THEN_DIGIT.test(v),
  // Old Maven releases such as Guava's "r09" start with a letter; "LATEST"/"RELEASE" have no number.
  maven: (v) => ANY_DIGIT.test(v),
  composer: (v) => V_THEN_DIGIT.test(v),
  // PEP 440 versions start so; PyPI's legacy ones that do ("0.4.0-p1", "2.0.0-final") are real releases.
  pep440: (v) => V_THEN_DIGIT.test(v.trim()),
};

function comparable(cmp: Compare, v: string): boolean {
  try {
    cmp(v, v);
    return true;
  } catch {
    return false;
  }
}

/** How a version takes part in matching: not at all, by exact listing only, or in ranges too. */
export type VersionUse = 'none' | 'exact' | 'ordered';

/**
 * How `version` of `scheme` (an OSV ecosystem name such as "Go", "PyPI", "Debian", "Alpine")
 * is matched; `cmp` is the comparator ranges of that scheme are read with.
 */
export function versionUse(scheme: string, version: string, cmp: Compare | undefined): VersionUse {
  const t = version.trim();
  if (t === '' || t === DEVEL) return 'none';
  if (cmp !== undefined && !comparable(cmp, version)) return 'exact';
  const shape = SHAPE[schemeFor(scheme)?.id ?? ''];
  return shape === undefined || shape(version) ? 'ordered' : 'exact';
}

/** Memoises versionUse per scheme; dropped whole when large, like the version parse caches. */
export class VersionUses {
  private readonly byScheme = new Map<string, Map<string, VersionUse>>();

  constructor(private readonly limit = 100_000) {}

  get(scheme: string, version: string, cmp: Compare | undefined): VersionUse {
    let m = this.byScheme.get(scheme);
    if (m === undefined) this.byScheme.set(scheme, (m = new Map<string, VersionUse>()));
    const hit = m.get(version);
    if (hit !== undefined) return hit;
    const use = versionUse(scheme, version, cmp);
    if (m.size >= this.limit) m.clear();
    m.set(version, use);
    return use;
  }
}
